"""Checkpoint save and load time for the ``paper`` presets (Tran and Conv, DeepSTARR shape).

A full training checkpoint is measured: weights, EMA shadows and AdamW moments (what ``d3 train`` writes), saved
atomically with ``d3core.atomic.atomic_torch_save`` and loaded with ``d3core.checkpoints.safe_torch_load``
(``weights_only=True``), plus ``load_model_local`` (detect format, load, build the network, apply EMA).

Usage: python benchmarks/checkpoints.py [--out benchmarks/results/checkpoints.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch


def full_checkpoint(arch: str, preset: str):
    """A d3 Lightning checkpoint of a freshly built network, as ``d3 train`` would write after some steps."""
    from omegaconf import OmegaConf

    from d3core.builtin.checkpoint_lightning import LightningFormat
    from d3core.checkpoints import CheckpointBundle, build_network
    from d3core.config import ConfigSources, assemble_config
    from d3core.plugins import get_plugin_manager

    architecture = get_plugin_manager().get("architectures", arch).load()
    config = assemble_config(ConfigSources(flags={"dataset": "deepstarr", "arch": arch, "preset": preset}),
                             dataset_defaults={"model": {"length": 249, "num_labels": 2}},
                             model_defaults=architecture.defaults, model_preset=architecture.preset(preset))
    plain = OmegaConf.to_container(config, resolve=True)
    network = build_network(plain, arch)
    weights = {k: v.detach().clone() for k, v in network.state_dict().items()}
    params = dict(network.named_parameters())
    state = {name: {"step": torch.tensor(10.0), "exp_avg": torch.randn_like(p), "exp_avg_sq": torch.rand_like(p)}
             for name, p in params.items()}
    bundle = CheckpointBundle(
        config=plain, model=weights,
        ema={"decay": 0.9999, "num_updates": 10, "shadow": {k: v.detach().clone() for k, v in params.items()}},
        optimizer={"state": state, "param_groups": [{"lr": 3e-4, "betas": (0.9, 0.999), "eps": 1e-8,
                                                    "weight_decay": 0.0, "params": list(params)}]},
        step=10, architecture=arch, dataset="deepstarr")
    return bundle, sum(p.numel() for p in params.values()), LightningFormat


def measure(arch: str, preset: str, folder: Path) -> dict:
    from d3core.checkpoints import load_model_local, safe_torch_load

    bundle, parameters, fmt = full_checkpoint(arch, preset)
    path = folder / f"{arch}-{preset}.ckpt"
    start = time.perf_counter()
    fmt.save(bundle, path)
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    safe_torch_load(path)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    load_model_local(path)
    model_s = time.perf_counter() - start
    return {"arch": arch, "preset": preset, "parameters": parameters, "file_mb": round(path.stat().st_size / 2**20, 1),
            "save_s": round(save_s, 3), "load_s": round(load_s, 3), "load_model_local_s": round(model_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "checkpoints.json")
    parser.add_argument("--presets", nargs="+", default=["paper"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("Tran", "tiny", Path(tmp))  # warm-up: first-call imports are not checkpoint time
        results = [measure(arch, preset, Path(tmp)) for arch in ("Tran", "Conv") for preset in args.presets]
    report = {"benchmark": "checkpoints", "format": "lightning (.ckpt: weights, EMA, AdamW moments)",
              "device": "cpu", "torch": torch.__version__, "python": platform.python_version(), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
