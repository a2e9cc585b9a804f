"""Checkpoint formats: the plain-data ``CheckpointBundle``, safe loading, and format detection through the registry.

A format (registered with ``register_checkpoint_formats``) has ``detect(path) -> bool`` (by content: a file or a run
directory), ``load(path) -> CheckpointBundle`` and ``save(bundle, path)``. Converting = load with one format, save
with another.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d3core.errors import D3UserError


@dataclass
class CheckpointBundle:
    """Everything a checkpoint holds, as plain data (tensors, dicts, numbers).

    ``model`` and ``ema`` map parameter names of the d3 architecture to tensors; ``optimizer`` is a torch optimizer
    state dict whose ``state`` is keyed by parameter name; ``config`` is the resolved run config as plain containers.
    """

    config: dict[str, Any]
    model: dict[str, Any]
    ema: dict[str, Any] | None = None
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    step: int = 0
    epoch: int = 0
    architecture: str | None = None
    dataset: str | None = None
    precision: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    source_format: str | None = None


def safe_torch_load(path: str | os.PathLike, *, mmap: bool = False) -> Any:
    """``torch.load(weights_only=True)``; a refused object becomes a one-line :class:`D3UserError`."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        text = " ".join(str(exc).split())
        marker = "Unsupported global: GLOBAL "
        name = text.split(marker, 1)[1].split(" ", 1)[0] if marker in text else "an unknown object"
        raise D3UserError(f"refused: {path} holds a non-allow-listed object {name}; d3 never unpickles arbitrary "
                          "code. If it is an original D3 .pth file, install d3-ckpt-legacy") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise D3UserError(f"{path}: not a readable torch checkpoint ({' '.join(str(exc).split())[:200]})") from exc


def detect_format(path: str | os.PathLike, manager=None) -> tuple[str, Any]:
    """``(format name, format object)`` of the first registered format whose ``detect`` accepts ``path``.

    Third-party ``detect`` calls are wrapped: one that raises is treated as "not mine".
    """
    from d3core.plugins import get_plugin_manager

    path = Path(path)
    if not path.exists():
        raise D3UserError(f"{path}: no such checkpoint file or run directory")
    registry = (manager or get_plugin_manager()).registry("checkpoint_formats")
    for entry in registry.entries():
        fmt = entry.load()
        try:
            if fmt.detect(path):
                return entry.name, fmt
        except D3UserError:
            raise
        except Exception:  # a plugin's detect() must not break detection of the others
            continue
    names = ", ".join(registry.names()) or "none"
    raise D3UserError(f"{path}: no installed checkpoint format recognises it (formats: {names}); original D3 .pth "
                      "runs need the d3-ckpt-legacy plugin")


def load_bundle(path: str | os.PathLike, manager=None) -> tuple[str, CheckpointBundle]:
    """``(format name, bundle)`` of any checkpoint a registered format recognises."""
    name, fmt = detect_format(path, manager)
    return name, fmt.load(Path(path))


def model_from_bundle(bundle: CheckpointBundle, *, use_ema: bool = True, manager=None):
    """Build ``(model, graph, noise)`` from a bundle: the architecture from the registry, weights (EMA by default)."""
    from omegaconf import OmegaConf

    from d3core.plugins import get_plugin_manager
    from d3core.training.module import build_diffusion, model_config_of

    config = OmegaConf.create(bundle.config)
    graph, noise = build_diffusion(config)
    architecture = (manager or get_plugin_manager()).get("architectures", bundle.architecture or config.arch).load()
    model = architecture.build(model_config_of(config, graph.dim))
    weights = dict(bundle.model)
    if use_ema and bundle.ema:
        weights.update(bundle.ema.get("shadow", {}))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise D3UserError(f"checkpoint weights do not fit architecture {architecture.name}: missing "
                          f"{list(missing)[:3]}, unexpected {list(unexpected)[:3]}; was it trained with another "
                          "architecture or preset?")
    return model, graph, noise


def load_model_local(path: str | os.PathLike, device: str = "cpu", *, use_ema: bool = True, manager=None):
    """Load any checkpoint (run directory, ``.pth`` or ``.ckpt``) as the original D3 API did.

    Returns ``(model, graph, noise)``: the score network in eval mode on ``device`` with the EMA weights applied,
    ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]``; ``noise(t) -> (total_noise, rate_noise)``.
    """
    _, bundle = load_bundle(path, manager)
    model, graph, noise = model_from_bundle(bundle, use_ema=use_ema, manager=manager)
    return model.to(device).eval(), graph, noise
