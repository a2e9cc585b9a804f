"""The score network, graph and noise of a run config or a bundle: what sampling, conversion and ``d3 checkpoint``
build from a checkpoint (``load_model_local`` is the original D3 API)."""
from __future__ import annotations

import os
from typing import Any

from d3core.checkpoints.bundle import CheckpointBundle
from d3core.checkpoints.formats import load_bundle
from d3core.errors import D3UserError
from d3core.plain_data import to_plain
from d3core.plugins import get_plugin_manager

__all__ = ["build_diffusion", "build_network", "load_model_local", "model_from_bundle", "parameter_count",
           "parameter_names"]


def build_diffusion(config: Any):
    """``(graph, noise)`` of a run config (a DictConfig or plain dict: ``graph.type``, ``tokens``, ``noise.*``)."""
    from d3core.diffusion import build_graph, build_noise

    graph = build_graph(str(config["graph"]["type"]), int(config.get("tokens", 4)))
    noise_cfg = config["noise"]
    kind = str(noise_cfg["type"]).lower()
    if kind == "geometric":
        noise = build_noise("geometric", sigma_min=float(noise_cfg["sigma_min"]),
                            sigma_max=float(noise_cfg["sigma_max"]))
    elif kind == "loglinear":
        noise = build_noise("loglinear", eps=float(noise_cfg.get("eps", 1e-3)))
    else:
        raise D3UserError(f"config noise.type={noise_cfg['type']!r} is not one of: geometric, loglinear")
    return graph, noise


def _model_config(config: dict[str, Any], graph_dim: int) -> dict[str, Any]:
    model = dict(config.get("model") or {})
    model["tokens"] = graph_dim
    return model


def build_network(config: dict[str, Any], architecture: str | None = None, *, manager=None, device: Any = None):
    """The score network of a (plain) run config; ``device="meta"`` builds it without allocating weights."""
    import torch

    config = to_plain(config)
    graph, _ = build_diffusion(config)
    arch = (manager or get_plugin_manager()).architecture(architecture or config["arch"])
    if device is None:
        return arch.build(_model_config(config, graph.dim))
    with torch.device(device):
        return arch.build(_model_config(config, graph.dim))


def model_from_bundle(bundle: CheckpointBundle, *, use_ema: bool = True, manager=None):
    """Build ``(model, graph, noise)`` from a bundle: the architecture from the registry, weights (EMA by default).

    Loading is strict: a missing or unexpected key, or a shape mismatch, is a :class:`D3UserError`.
    """
    config = to_plain(bundle.config)
    graph, noise = build_diffusion(config)
    architecture = (manager or get_plugin_manager()).architecture(bundle.architecture or config["arch"])
    model = architecture.build(_model_config(config, graph.dim))
    weights = dict(bundle.model)
    if use_ema and bundle.ema:
        weights.update(bundle.ema.get("shadow", {}))
    ours = model.state_dict()
    missing = [k for k in ours if k not in weights]
    unexpected = [k for k in weights if k not in ours]
    wrong = [k for k in ours if k in weights and tuple(weights[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected else
                  f"{wrong[0]} has shape {tuple(weights[wrong[0]].shape)}, the network {tuple(ours[wrong[0]].shape)}")
        raise D3UserError(f"checkpoint weights do not fit architecture {architecture.name} with the checkpoint's "
                          f"config: {detail}; was it trained with another architecture or preset?")
    model.load_state_dict(weights, strict=True)
    return model, graph, noise


def load_model_local(path: str | os.PathLike, device: str = "cpu", *, use_ema: bool = True, manager=None,
                     **options: Any):
    """Load any checkpoint (run directory, ``.pth`` or ``.ckpt``, or a plugin format) as the original D3 API did.

    Returns ``(model, graph, noise)``: the score network in eval mode on ``device`` with the EMA weights applied,
    ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]``; ``noise(t) -> (total_noise, rate_noise)``.
    ``options`` go to the format's ``load`` (original files: ``arch="Tran"``, ``config="path/to/config.yaml"``).
    """
    _, bundle = load_bundle(path, manager, **options)
    model, graph, noise = model_from_bundle(bundle, use_ema=use_ema, manager=manager)
    return model.to(device).eval(), graph, noise


def parameter_names(bundle: CheckpointBundle, manager=None) -> list[str]:
    """Names of the d3 network's parameters in ``model.parameters()`` order (the optimizer's index order).

    When the EMA tracks as many tensors as the optimizer has parameters, its (ordered) names are used; otherwise
    the network is built on the meta device from the bundle's config.
    """
    groups = (bundle.optimizer or {}).get("param_groups") or []
    count = sum(len(g.get("params", [])) for g in groups)
    shadow = list(((bundle.ema or {}).get("shadow") or {}))
    if shadow and (not groups or count == len(shadow)) and all(name in bundle.model for name in shadow):
        return [name for name in bundle.model if name in set(shadow)]
    network = build_network(bundle.config, bundle.architecture, manager=manager, device="meta")
    return [name for name, _ in network.named_parameters()]


def parameter_count(bundle: CheckpointBundle, manager=None) -> int:
    """Parameters of the d3 network (buffers excluded when the network can be built, else every tensor)."""
    try:
        network = build_network(bundle.config, bundle.architecture, manager=manager, device="meta")
        return sum(p.numel() for p in network.parameters())
    except Exception:
        return sum(int(t.numel()) for t in bundle.model.values() if hasattr(t, "numel"))
