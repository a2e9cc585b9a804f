"""Checkpoint format ``d3-dna``: the files of the D3 authors' package d3-dna 0.1.3, both ways.

Loading (any file name; :mod:`d3_ckpt_d3dna.layout` says what is recognised):

1. read with ``torch.load(weights_only=True)``, d3's allow-list plus the OmegaConf config classes
   (:mod:`d3_ckpt_d3dna.safe_read`); the embedded ``cfg`` rebuilt as plain data;
2. the network keys say the tower (``d3dna-Tran`` / ``d3dna-Conv``); the config comes from the file's ``cfg``, else
   from a d3-dna YAML passed as ``config=`` (``--legacy_config``), else a one-line error asking for it; every size
   the tensors fix is read from them and must agree with the config;
3. the weights must be exactly the network's (names and shapes); the EMA list is mapped onto the trainable
   parameters in the file's own key order, its length and every shape checked (never a silent ``zip``); the AdamW
   state is keyed by parameter name.

Saving writes d3-dna's Lightning ``.ckpt`` (``score_model.`` weights, the EMA list and scalars in ``state_dict``,
``hyper_parameters['cfg']`` as a ``DictConfig``, AdamW state, step) that d3-dna's ``load_checkpoint`` opens. It holds
``d3dna-Tran``/``d3dna-Conv`` models and d3's own ``Tran`` (which computes what d3-dna's transformer computes when
labels are given; d3-dna's unused label table is added, a learned null condition is left out).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from d3core.api import (
    CheckpointBundle,
    D3UserError,
    UnsafeCheckpointError,
    atomic_torch_save,
    build_network,
    optimizer_by_name,
    run_config,
    to_plain,
)

from d3_ckpt_d3dna import layout
from d3_ckpt_d3dna.config import TRAN, d3_settings, read_yaml
from d3_ckpt_d3dna.infer import check_sizes, sizes_from_weights
from d3_ckpt_d3dna.safe_read import plain_config, read_file

NAME = "d3-dna"
CONFIG_FLAG = "--legacy_config"


def recognise(path: Path) -> tuple[dict, str, dict[str, Any]] | None:
    """``(content, layout, network state)`` of a d3-dna file, None for anything else (a refused pickle raises)."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return None
    try:
        content = read_file(path)
    except UnsafeCheckpointError:
        raise
    except D3UserError:
        return None
    found = layout.network_state(content)
    return None if found is None else (content, *found)


def _config_for(content: dict, kind: str, arch: str, path: Path, config: str | os.PathLike | None):
    """``(plain d3-dna cfg, where it came from)``: ``config=`` when given, else the file's own, else an error."""
    if config is not None:
        return read_yaml(config), str(config)
    embedded = (content.get("hyper_parameters") or {}).get("cfg") if kind == layout.LIGHTNING else None
    cfg = plain_config(embedded, str(path))
    if cfg is None:
        what = "a d3-dna SEDD-layout .pth" if kind == layout.SEDD else "a d3-dna checkpoint without hyper_parameters"
        raise D3UserError(f"{path}: {what} carries no config, and its {arch} weights do not give the sequence length, "
                          f"the dataset or the noise schedule; pass the d3-dna config YAML it was trained with: "
                          f"{CONFIG_FLAG} config.yaml")
    return cfg, "file"


def _check_weights(path: Path, expected: dict, state: dict, arch: str) -> None:
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise D3UserError(f"{path}: the weights do not fit d3-dna's {arch} network with the file's config (missing "
                          f"{missing[:3]}, unexpected {unexpected[:3]}); the file is damaged or not d3-dna's")
    for key, tensor in expected.items():
        if not hasattr(state[key], "shape") or tuple(state[key].shape) != tuple(tensor.shape):
            raise D3UserError(f"{path}: tensor {key} has shape {tuple(getattr(state[key], 'shape', ()))}, the "
                              f"network {tuple(tensor.shape)}; the file is damaged or its config is not its own")


def _ema(path: Path, content: dict, kind: str, state: dict, trainable: list[str]) -> dict[str, Any] | None:
    """The EMA by parameter name: the list mapped onto the trainable parameters in the file's key order."""
    entries = layout.ema_entries(content, kind)
    if entries is None:
        return None
    shadow = entries["shadow_params"]
    wanted = set(trainable)
    order = [k for k in state if k in wanted]
    if not isinstance(shadow, (list, tuple)) or len(shadow) != len(order):
        count = len(shadow) if isinstance(shadow, (list, tuple)) else type(shadow).__name__
        raise D3UserError(f"{path}: the EMA holds {count} tensors but the network has {len(order)} trainable "
                          "parameters; the file is inconsistent (refusing to guess the alignment)")
    for name, tensor in zip(order, shadow):
        if not hasattr(tensor, "shape") or tuple(tensor.shape) != tuple(state[name].shape):
            raise D3UserError(f"{path}: the EMA tensor for {name} has shape {tuple(getattr(tensor, 'shape', ()))}, "
                              f"the parameter {tuple(state[name].shape)}")
    return {"decay": float(entries.get("decay", 0.9999)), "num_updates": int(entries.get("num_updates") or 0),
            "shadow": dict(zip(order, shadow))}


def _optimizer(path: Path, content: dict, kind: str, names: list[str], state: dict) -> dict[str, Any] | None:
    import torch

    optimizer = layout.optimizer_state(content, kind)
    if not optimizer:
        return None
    named = optimizer_by_name(to_plain_groups(optimizer), names, source=str(path))
    for name, moments in named["state"].items():
        for key, value in moments.items():
            if isinstance(value, torch.Tensor) and value.dim() and tuple(value.shape) != tuple(state[name].shape):
                raise D3UserError(f"{path}: optimizer {key} of {name} has shape {tuple(value.shape)}, the parameter "
                                  f"{tuple(state[name].shape)}")
    return named


def to_plain_groups(optimizer: dict) -> dict:
    """The optimizer state with numpy scalars in its param groups (SEDD stores ``lr`` as ``numpy.float64``) as
    Python numbers."""
    return {"state": optimizer.get("state") or {},
            "param_groups": [{k: (v if k == "params" else to_plain(v)) for k, v in group.items()}
                             for group in optimizer.get("param_groups") or []]}


def label_names(bundle: CheckpointBundle) -> list[str]:
    """The names of the model's labels: its dataset plugin's, when one is installed and has as many."""
    from d3core.api import get_registry

    count = int((bundle.config.get("model") or {}).get("num_labels") or 0)
    try:
        names = list(get_registry("datasets").get(str(bundle.dataset)).load().label_names)
    except Exception:  # no such dataset installed: the count says enough
        names = []
    return names if len(names) == count else [f"label_{i}" for i in range(count)]


class D3dnaFormat:
    """d3-dna's Lightning ``.ckpt`` and SEDD-layout ``.pth`` (by content)."""

    name = NAME
    suffix = ".ckpt"

    @staticmethod
    def detect(path: Path) -> bool:
        return recognise(Path(path)) is not None

    @staticmethod
    def load(path: Path, *, config: str | os.PathLike | None = None) -> CheckpointBundle:
        """The bundle of a d3-dna file (see the module docstring); ``config``: a d3-dna config YAML for a file
        without one."""
        from d3_ckpt_d3dna.architectures import D3dnaConv, D3dnaTran

        path = Path(path)
        found = recognise(path)
        if found is None:
            raise D3UserError(f"{path}: not a d3-dna checkpoint (neither its Lightning .ckpt with score_model. "
                              "weights nor its SEDD .pth {model, ema, optimizer, step})")
        content, kind, state = found
        arch = layout.tower_of(state)
        cfg, config_from = _config_for(content, kind, arch, path, config)
        settings = d3_settings(cfg, str(config if config is not None else path))
        if settings["arch"] != arch:
            raise D3UserError(f"{path}: the config says {settings['arch']} but the weights are {arch}'s")
        found_sizes = sizes_from_weights(arch, state, str(path))
        vocab = found_sizes.pop("tokens")
        graph_dim = settings["tokens"] + int(settings["graph"]["type"] == "absorbing")
        check_sizes(settings["model"], graph_dim, {**found_sizes, "tokens": vocab}, str(path))
        settings["model"].update({k: v for k, v in found_sizes.items() if k in ("num_classes", "class_dropout_prob")})
        defaults = (D3dnaTran if arch == TRAN else D3dnaConv).defaults
        full = run_config(settings, model_defaults=defaults)
        network = build_network(full, arch, device="meta")
        expected = network.state_dict()
        _check_weights(path, expected, state, arch)
        names = [n for n, _ in network.named_parameters()]
        trainable = [n for n, p in network.named_parameters() if p.requires_grad]
        extra = {"layout": kind, "cfg": cfg, "config_from": config_from,
                 "lightning_version": content.get("pytorch-lightning_version")}
        return CheckpointBundle(
            config=full, model={k: state[k] for k in expected}, ema=_ema(path, content, kind, state, trainable),
            optimizer=_optimizer(path, content, kind, names, state), scheduler=None,
            step=layout.step_of(content, kind), epoch=int(content.get("epoch") or 0), architecture=arch,
            dataset=full.get("dataset"), precision=settings["lightning"]["precision"],
            versions={"d3-dna": "0.1.x"}, source_format=NAME, extra={"d3dna": extra})

    @staticmethod
    def describe(bundle: CheckpointBundle) -> dict[str, Any]:
        """``d3 checkpoint info``'s ``d3dna`` facts: file layout and where the config came from."""
        facts = (bundle.extra or {}).get("d3dna")
        if not facts or bundle.source_format != NAME:
            return {}
        layout_name = {"lightning": "Lightning .ckpt (D3Trainer)", "sedd": "SEDD .pth {model, ema, optimizer, step}"}
        source = "embedded in the file" if facts["config_from"] == "file" else f"from {facts['config_from']}"
        names = label_names(bundle)
        labels = f"; labels {', '.join(names)}" if names else "; unconditional"
        return {"d3dna": {"layout": facts["layout"], "config_from": facts["config_from"], "label_names": names,
                          "summary": f"{layout_name[facts['layout']]}, config {source}{labels}"}}

    @staticmethod
    def save(bundle: CheckpointBundle, path: Path) -> None:
        """Write d3-dna's Lightning ``.ckpt`` at ``path`` (atomically); models d3-dna cannot run raise
        :class:`FormatCannotHold` before anything is written."""
        from d3_ckpt_d3dna.export import export_checkpoint

        atomic_torch_save(export_checkpoint(bundle), Path(path))

