#!/usr/bin/env python
"""d3's public Python API end to end, on tiny synthetic data (CPU, well under a minute).

    python examples/python_api.py [--out DIR] [--steps N]

1. registries: which datasets and architectures are installed, and who provides them;
2. data: a synthetic DeepSTARR-layout file (motifs planted with known effects on the two activities);
3. training: ``plan_run`` (config + plugins + data checks) then ``fit`` (a Lightning ``Trainer``);
4. loading: ``d3core.load_model_local`` (any checkpoint format -> model with EMA weights, graph, noise);
5. sampling: ``d3core.diffusion.sample`` conditioned on chosen activities;
6. evaluation: k-mer and GC statistics of the samples against real test sequences (``d3core.evaluation.metrics``).

The same steps on the command line: ``d3 data synth``, ``d3 train``, ``d3 sample``, ``d3 evaluate``
(docs/getting-started.md). CI runs this file (tests/authoring/test_python_api_example.py).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

import d3core
from d3core.config import ConfigSources
from d3core.data import decode
from d3core.diffusion import sample
from d3core.evaluation.metrics import gc_content, kmer_js, kmer_spectrum
from d3core.training import fit, plan_run, trainer_kwargs


def main(out: Path, steps: int = 10) -> dict:
    # -- 1. registries: the installed plugins' components, by name ----------------------------------------------------
    datasets, architectures = d3core.get_registry("datasets"), d3core.get_registry("architectures")
    print("datasets:", ", ".join(datasets.names()), "| architectures:", ", ".join(architectures.names()))
    entry = datasets.get("deepstarr")              # case-insensitive; 'dist:name' picks one provider
    print(f"deepstarr comes from {entry.provider} ({entry.factory_path}), length {entry.metadata['length']}")

    # -- 2. data: 128 synthetic training rows in the DeepSTARR layout --------------------------------------------------
    dataset = entry.load()()                       # the factory is the dataset class; instances are cheap
    data = dataset.synthesize(out / "deepstarr_synth.h5", 128, seed=0, overwrite=True)
    print("data:", dataset.validate(data).splits["train"].rows, "training rows in", data)

    # -- 3. training: plan (everything checked, nothing heavy yet), then fit -----------------------------------------
    flags = {"dataset": "deepstarr", "arch": "Tran", "preset": "tiny", "data.path": str(data),
             "work_dir": str(out / "run"), "training.max_steps": steps, "training.batch_size": 16,
             "training.val_check_interval": steps, "eval.batch_size": 16, "optim.warmup": 5,
             "lightning.accelerator": "cpu", "lightning.precision": "32-true", "loggers": ["csv"],
             "lightning.logging.log_every_n_steps": 5}
    plan = plan_run(ConfigSources(flags=flags, overrides=["optim.lr=1e-3"]))
    kwargs = trainer_kwargs(plan)                  # what fit() passes to pytorch_lightning.Trainer(**kwargs)
    print(f"trainer: max_steps={kwargs['max_steps']} precision={kwargs['precision']} "
          f"callbacks={[type(c).__name__ for c in kwargs['callbacks']]}")
    summary = fit(plan)
    print(f"trained {summary['global_step']} steps, val_loss {summary['metrics'].get('val_loss', float('nan')):.1f}; "
          f"checkpoint {summary['last_checkpoint']}")

    # -- 4. loading: any registered checkpoint format, EMA weights, eval mode ----------------------------------------
    model, graph, noise = d3core.load_model_local(summary["last_checkpoint"], device="cpu")

    # -- 5. sampling: 8 sequences asking for high developmental, low housekeeping activity ---------------------------
    labels = torch.tensor([[2.0, 0.0]]).repeat(8, 1)        # [B, C] = (dev, hk)
    generator = torch.Generator().manual_seed(0)
    tokens = sample(model, graph, noise, (8, dataset.length), labels=labels, steps=16, generator=generator)
    sequences = decode(tokens.numpy())
    print("first sample:", sequences[0][:60] + "...")

    # -- 6. evaluation: compare with real test sequences --------------------------------------------------------------
    test = dataset.open_split(data, "test")
    real = torch.stack([test[i][0] for i in range(len(test))]).numpy()
    generated = tokens.numpy()
    report = {"kmer_js_k3": kmer_js(kmer_spectrum(real, 3), kmer_spectrum(generated, 3)),
              "gc_generated": float(gc_content(generated).mean()), "gc_real": float(gc_content(real).mean()),
              "num_sequences": len(sequences), "global_step": summary["global_step"]}
    print("evaluation:", {k: round(v, 3) if isinstance(v, float) else v for k, v in report.items()})
    assert np.isfinite(report["kmer_js_k3"]) and all(set(s) <= set("ACGT") for s in sequences)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps (default 10)")
    args = parser.parse_args()
    if args.out is None:
        with tempfile.TemporaryDirectory(prefix="d3-example-") as tmp:
            main(Path(tmp), args.steps)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        main(args.out, args.steps)
