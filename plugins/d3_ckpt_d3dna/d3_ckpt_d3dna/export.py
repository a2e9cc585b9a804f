"""A bundle as d3-dna's Lightning ``.ckpt`` (what ``d3 convert --to d3-dna`` writes).

The dict, as ``D3Trainer`` writes it::

    epoch, global_step, pytorch-lightning_version, hparams_name = "kwargs",
    state_dict = {score_model.<name>: tensor (every parameter and buffer, d3-dna's order),
                  ema.decay: float, ema.num_updates: int, ema.shadow_params: [tensor] (trainable parameters)},
    hyper_parameters = {cfg: DictConfig (d3-dna's config), dataset_name: None},
    optimizer_states = [AdamW state by index] (when the bundle has one), lr_schedulers = []

Held: ``d3dna-Tran``, ``d3dna-Conv`` and d3's ``Tran``. d3's ``Tran`` computes exactly d3-dna's transformer when
labels are given (same keys, same operations); the export adds d3-dna's unused label table (initialised as
``nn.Embedding`` does, from the run's seed) and leaves out a learned null condition (d3-dna has no classifier-free
guidance: its ``labels=None`` means "no label term", not the null condition), with a warning.
"""
from __future__ import annotations

import warnings
from typing import Any

from d3core.api import FormatCannotHold, build_network, optimizer_by_index, to_plain

from d3_ckpt_d3dna import layout
from d3_ckpt_d3dna.config import CONV, TRAN, d3dna_config

NULL_EMBEDDING = "vocab_embed.null_embedding"
LABEL_TABLE = "label_embed.embedding_table.weight"
#: the Lightning version stamped into a file that did not come from d3-dna (the one d3-dna 0.1.3 was tested with)
LIGHTNING = "2.6.6"


def _as_d3dna(bundle) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(d3 config as d3dna-*, weights, EMA shadow)`` for the d3-dna network; FormatCannotHold when impossible."""
    import torch

    config = to_plain(bundle.config)
    arch = bundle.architecture or config.get("arch")
    weights, shadow = dict(bundle.model), dict(((bundle.ema or {}).get("shadow") or {}))
    if str(arch).lower() == "tran":
        model = dict(config.get("model") or {})
        if int(model.get("mlp_ratio", 4)) != 4:
            raise FormatCannotHold(f"d3-dna's transformer has mlp_ratio 4, this model {model.get('mlp_ratio')}")
        if int(model.get("num_labels") or 0) == 0:
            raise FormatCannotHold("d3-dna's transformer always has a label embedding; this Tran is unconditional")
        if NULL_EMBEDDING in weights:
            warnings.warn("d3-dna has no classifier-free guidance: the learned null condition of this Tran is left "
                          "out (conditional outputs are unchanged)", stacklevel=3)
            weights.pop(NULL_EMBEDDING)
            shadow.pop(NULL_EMBEDDING, None)
        model.update(num_classes=4, class_dropout_prob=0.1, null_condition=False)
        config = {**config, "arch": TRAN, "model": model}
        generator = torch.Generator().manual_seed(int(config.get("seed", 0)))
        cond = int(model["cond_dim"])
        dtype = next(iter(weights.values())).dtype
        weights[LABEL_TABLE] = torch.randn(5, cond, generator=generator).to(dtype)
        arch = TRAN
    if arch not in (TRAN, CONV):
        raise FormatCannotHold(f"d3-dna runs its own transformer and CNN (d3dna-Tran, d3dna-Conv) and d3's Tran; not "
                               f"architecture {arch!r}")
    graph = (config.get("graph") or {}).get("type", "uniform")
    noise = (config.get("noise") or {}).get("type", "geometric")
    if graph not in ("uniform", "absorbing") or noise != "geometric":
        raise FormatCannotHold(f"d3-dna has the uniform and absorb graphs and the geometric noise only, not graph "
                               f"{graph!r} with noise {noise!r}")
    if arch == CONV and graph != "uniform":
        raise FormatCannotHold("d3-dna's CNN works with the uniform graph only")
    return config, weights, shadow


def export_checkpoint(bundle) -> dict[str, Any]:
    """The d3-dna checkpoint dict of ``bundle`` (see the module docstring)."""
    from omegaconf import OmegaConf

    config, weights, shadow = _as_d3dna(bundle)
    network = build_network(config, config["arch"], device="meta")
    expected = network.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        raise FormatCannotHold(f"the weights do not fit d3-dna's network (missing {missing[:3]}, unexpected "
                               f"{unexpected[:3]})")
    named = list(network.named_parameters())
    trainable = [n for n, p in named if p.requires_grad]
    ema = bundle.ema or {}
    state: dict[str, Any] = {layout.SCORE_PREFIX + k: weights[k].detach().contiguous() for k in expected}
    state[layout.EMA_PREFIX + "decay"] = float(ema.get("decay", (config.get("training") or {}).get("ema", 0.9999)))
    state[layout.EMA_PREFIX + "num_updates"] = int(ema.get("num_updates") or 0)
    state[layout.EMA_PREFIX + "shadow_params"] = [shadow.get(n, weights[n]).detach().contiguous() for n in trainable]
    stored = ((bundle.extra or {}).get("d3dna") or {}).get("cfg")
    cfg = OmegaConf.create(d3dna_config(config, stored))
    checkpoint: dict[str, Any] = {
        "epoch": int(bundle.epoch), "global_step": int(bundle.step),
        "pytorch-lightning_version": ((bundle.extra or {}).get("d3dna") or {}).get("lightning_version") or LIGHTNING,
        "state_dict": state, "hparams_name": "kwargs", "hyper_parameters": {"cfg": cfg, "dataset_name": None},
        "optimizer_states": [], "lr_schedulers": [],
    }
    if bundle.optimizer:
        names = [n for n, _ in named]
        shapes = {n: tuple(p.shape) for n, p in named}
        optimizer = dict(bundle.optimizer)
        optimizer["state"] = {k: v for k, v in (optimizer.get("state") or {}).items() if k != NULL_EMBEDDING}
        checkpoint["optimizer_states"] = [optimizer_by_index(optimizer, names, shapes, target="d3-dna checkpoint")]
    return checkpoint
