"""``d3 checkpoint info``: the facts of a checkpoint (format, architecture, dataset, step, sizes, precision, EMA,
optimizer, diffusion) as JSON-able data, plus whatever the checkpoint's format adds (its ``describe(bundle)``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from d3core.checkpoints.bundle import CheckpointBundle
from d3core.checkpoints.formats import get_format
from d3core.checkpoints.models import parameter_count
from d3core.plain_data import to_plain

__all__ = ["ARCH_KEYS", "CORE_FACTS", "describe_checkpoint"]

#: model keys shown for the architecture (those the config has)
ARCH_KEYS = ("hidden_size", "n_blocks", "n_heads", "cond_dim", "channels", "n_layers")
#: the facts every checkpoint has; a format's ``describe(bundle)`` adds others
CORE_FACTS = ("path", "format", "architecture", "dataset", "step", "parameters", "precision", "preset", "model",
              "labels", "graph", "noise", "dtype", "ema", "optimizer")


def describe_checkpoint(path: Path, name: str, bundle: CheckpointBundle, manager) -> dict[str, Any]:
    """The facts of ``bundle`` (loaded from ``path`` with format ``name``).

    Keys: ``path``, ``format``, ``architecture``, ``dataset``, ``step``, ``parameters``, ``precision``, ``preset``,
    ``model`` (the architecture's size keys), ``labels`` (``num_labels``, ``label_mode``, ``length``), ``graph``,
    ``noise``, ``dtype``, and when present ``ema`` (``decay``, ``num_updates``, ``tensors``) and ``optimizer``
    (``moments``, ``parameters``, ``lr``); then the format's own facts.
    """
    config = to_plain(bundle.config) or {}
    model = config.get("model") or {}
    info: dict[str, Any] = {
        "path": str(path), "format": name, "architecture": bundle.architecture, "dataset": bundle.dataset,
        "step": int(bundle.step), "parameters": parameter_count(bundle, manager), "precision": bundle.precision,
        "preset": config.get("preset"),
        "model": {k: model[k] for k in ARCH_KEYS if k in model},
        "labels": {"num_labels": model.get("num_labels"), "label_mode": model.get("label_mode"),
                   "length": model.get("length")},
        "graph": (config.get("graph") or {}).get("type"), "noise": config.get("noise"),
    }
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in bundle.model.values() if hasattr(t, "dtype")})
    info["dtype"] = ",".join(dtypes)
    if bundle.ema:
        info["ema"] = {"decay": bundle.ema.get("decay"), "num_updates": bundle.ema.get("num_updates"),
                       "tensors": len(bundle.ema.get("shadow") or {})}
    if bundle.optimizer:
        groups = bundle.optimizer.get("param_groups") or [{}]
        info["optimizer"] = {"moments": len(bundle.optimizer.get("state") or {}),
                             "parameters": sum(len(g.get("params", [])) for g in groups),
                             "lr": groups[0].get("lr")}
    describe = getattr(get_format(name, manager)[1], "describe", None)
    if callable(describe):
        info.update(describe(bundle) or {})
    return info
