"""Run inside an environment with d3-dna 0.1.3 (not d3): open a checkpoint with d3-dna's own loader and write its
log-scores on given inputs.

    python d3dna_side.py CHECKPOINT INPUTS.pt OUT.pt

``INPUTS.pt`` = ``{"tokens": [B, L] long, "sigma": [B], "labels": [B, C] or None}``; ``OUT.pt`` = ``{"score": [B, L, V],
"global_step": int}``. The config is the one d3-dna pickled into the checkpoint (``hyper_parameters['cfg']``), the
model class the one its ``model.architecture`` names, the weights loaded by ``d3_dna.modules.checkpoint.
load_checkpoint`` (EMA applied), the scores computed by ``d3_dna.models.diffusion.get_score_fn``.
"""
import sys

import torch


def main(checkpoint, inputs_path, out_path):
    from d3_dna.models import ConvolutionalModel, TransformerModel
    from d3_dna.models.diffusion import get_score_fn
    from d3_dna.modules.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    cfg = torch.load(checkpoint, map_location="cpu", weights_only=False)["hyper_parameters"]["cfg"]
    model_cls = TransformerModel if cfg.model.architecture == "transformer" else ConvolutionalModel
    model, _, _ = load_checkpoint(checkpoint, model_cls(cfg), cfg, device="cpu")
    model.eval()
    inputs = torch.load(inputs_path, weights_only=True)
    with torch.no_grad():
        score = get_score_fn(model, train=False, sampling=False)(inputs["tokens"], inputs["sigma"], inputs["labels"])
    torch.save({"score": score.float(), "global_step": None}, out_path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
