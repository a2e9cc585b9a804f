"""Checkpoint formats: the plain-data ``CheckpointBundle``, safe loading, format detection and conversion.

A format (registered with ``register_checkpoint_formats``) is an object with

- ``detect(path) -> bool``: by content (a file, or a run directory);
- ``load(path) -> CheckpointBundle`` (it may accept keyword options such as ``arch=`` or ``config=``; only the
  options its signature names are passed);
- ``save(bundle, path)``: ``path`` is a file, or a directory for directory formats;
- optionally ``suffix``: what ``d3 convert`` appends to the run name (``".ckpt"``; ``""`` = a run directory;
  default ``"." + name``).

Converting = load with one format, save with another (:func:`convert_checkpoint`). Every load goes through
:func:`safe_torch_load` (``torch.load(weights_only=True)`` plus an explicit allow-list of numpy scalar types); a file
that needs anything else is refused and nothing in it is executed.

The bundle's naming contract: ``model`` and ``ema["shadow"]`` are keyed by the parameter names of the d3
architecture; ``optimizer`` is a torch optimizer state dict *keyed by parameter name* (``state`` maps names to
``{"step", "exp_avg", "exp_avg_sq"}``, each param group's ``params`` lists names) -- each format maps names to its
own indices, so no format depends on another's parameter order.
"""
from __future__ import annotations

import inspect
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d3core.errors import D3UserError

#: layout of an original D3 run directory (``is_original_checkpoint``)
ORIGINAL_CONFIGS = ("hydra/config.yaml", ".hydra/config.yaml")
ORIGINAL_CHECKPOINT_KEYS = frozenset({"model", "ema", "optimizer", "step"})
_SNAPSHOT = re.compile(r"checkpoint_(\d+)\.pth$")


@dataclass
class CheckpointBundle:
    """Everything a checkpoint holds, as plain data (tensors, dicts, numbers).

    ``model`` and ``ema["shadow"]`` map parameter names of the d3 architecture to tensors (``ema`` is
    ``{"decay", "num_updates", "shadow"}``); ``optimizer`` is a torch optimizer state dict whose ``state`` is keyed by
    parameter name and whose groups list names; ``scheduler`` a LambdaLR state dict (or None: rebuilt from the step);
    ``config`` is the full d3 run config as plain containers; ``extra`` carries format-specific data that another
    format may ignore (Lightning loops and RNG states, the original run's hydra config and key layout).
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
    extra: dict[str, Any] = field(default_factory=dict)


class UnsafeCheckpointError(D3UserError):
    """A checkpoint needs a non-allow-listed object to unpickle (possibly code): refused, nothing executed."""


# -- safe loading ------------------------------------------------------------------------------------------------------
def allowed_globals() -> list[Any]:
    """What ``torch.load(weights_only=True)`` may build besides tensors and plain containers.

    numpy's scalar reconstructor under numpy 2's name and, as an alias, numpy 1's ``numpy.core.multiarray.scalar``
    (original D3 files store the learning rate as ``numpy.float64``, pickled under numpy 1), ``numpy.dtype`` and the
    dtype classes, and ``_codecs.encode`` (protocol-2 pickles of bytes).
    """
    import codecs

    import numpy as np

    scalar = np._core.multiarray.scalar
    dtype_classes = sorted({cls for cls in vars(np.dtypes).values()
                            if isinstance(cls, type) and issubclass(cls, np.dtype)}, key=lambda c: c.__name__)
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *dtype_classes, codecs.encode]


_GLOBAL_NAME = re.compile(r"GLOBAL ([\w.]+)")


def safe_torch_load(path: str | os.PathLike, *, mmap: bool = False) -> Any:
    """``torch.load(weights_only=True)`` with :func:`allowed_globals`; never unpickles arbitrary objects.

    A refused object raises :class:`UnsafeCheckpointError` ("refused: <file> holds a non-allow-listed object
    <name>"); an unreadable file (corrupt, truncated, not a torch file) a one-line :class:`D3UserError`.
    ``mmap=True`` maps tensors lazily (only for zip-format files; older files are read normally).
    """
    import pickle

    import torch

    path = Path(path)
    try:
        use_mmap = bool(mmap) and zipfile.is_zipfile(path)
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as exc:
        text = " ".join(str(exc).split())
        found = _GLOBAL_NAME.search(text)
        if found:
            raise UnsafeCheckpointError(
                f"refused: {path} holds a non-allow-listed object {found.group(1)}; d3 loads checkpoints with "
                "torch.load(weights_only=True) and never unpickles arbitrary code") from exc
        detail = text.split("WeightsUnpickler error:", 1)[-1].split(" Check the documentation")[0].strip()
        raise D3UserError(f"{path}: not a readable torch checkpoint (corrupt or not a torch file: "
                          f"{detail[:160]})") from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        text = " ".join(str(exc).split()).split(". ")[0]
        hint = " -- truncated or corrupt" if "central directory" in text or "zip archive" in text else ""
        raise D3UserError(f"{path}: not a readable torch checkpoint{hint} ({text[:160]})") from exc
    except Exception as exc:  # garbage bytes drive the restricted unpickler into any error (IndexError, KeyError...)
        raise D3UserError(f"{path}: not a readable torch checkpoint (corrupt or not a torch file: "
                          f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from exc


# -- original D3 checkpoints -------------------------------------------------------------------------------------------
def original_config_file(directory: str | os.PathLike) -> Path | None:
    """``<dir>/hydra/config.yaml`` or ``<dir>/.hydra/config.yaml`` (whichever exists first), else None."""
    for name in ORIGINAL_CONFIGS:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def original_run_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The checkpoint files of an original run directory, most preferred first.

    ``checkpoints/checkpoint.pth`` (where the original ``load_model_local`` looks, and where the README puts a
    downloaded release), then the snapshots ``checkpoints/checkpoint_N.pth`` (highest N first), then the pre-emption
    snapshot ``checkpoints-meta/checkpoint.pth``.
    """
    run_dir = Path(run_dir)
    found = []
    main = run_dir / "checkpoints" / "checkpoint.pth"
    if main.is_file():
        found.append(main)
    snapshots = []
    if (run_dir / "checkpoints").is_dir():
        for child in (run_dir / "checkpoints").iterdir():
            match = _SNAPSHOT.match(child.name)
            if match and child.is_file():
                snapshots.append((int(match.group(1)), child))
    found += [p for _, p in sorted(snapshots, reverse=True)]
    meta = run_dir / "checkpoints-meta" / "checkpoint.pth"
    if meta.is_file():
        found.append(meta)
    return found


def is_original_run_dir(path: str | os.PathLike) -> bool:
    """A directory with ``hydra/config.yaml`` (or ``.hydra/``) and an original checkpoint file (layout only)."""
    path = Path(path)
    return path.is_dir() and original_config_file(path) is not None and bool(original_run_checkpoints(path))


def is_original_checkpoint(path: str | os.PathLike) -> bool:
    """True for an original D3 run directory, or a file holding the original ``{model, ema, optimizer, step}``.

    Files are read with :func:`safe_torch_load` (memory-mapped): a file that would need arbitrary code raises
    :class:`UnsafeCheckpointError`; an unreadable one is simply not an original checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        return is_original_run_dir(path)
    if not path.is_file():
        return False
    try:
        content = safe_torch_load(path, mmap=True)
    except UnsafeCheckpointError:
        raise
    except D3UserError:
        return False
    return isinstance(content, dict) and ORIGINAL_CHECKPOINT_KEYS <= set(content) and \
        "pytorch-lightning_version" not in content


# -- formats -----------------------------------------------------------------------------------------------------------
def _manager(manager=None):
    from d3core.plugins import get_plugin_manager

    return manager or get_plugin_manager()


def get_format(name: str, manager=None) -> tuple[str, Any]:
    """``(registered name, format object)`` of format ``name`` (aliases and ``dist:name`` accepted)."""
    entry = _manager(manager).registry("checkpoint_formats").get(name)
    return entry.name, entry.load()


def format_suffix(name: str, fmt: Any) -> str:
    """What a converted checkpoint's name ends with: ``fmt.suffix`` (``""`` = a directory), else ``"." + name``."""
    suffix = getattr(fmt, "suffix", None)
    return f".{name}" if suffix is None else str(suffix)


def detect_format(path: str | os.PathLike, manager=None) -> tuple[str, Any]:
    """``(format name, format object)`` of the first registered format whose ``detect`` accepts ``path``.

    Third-party ``detect`` calls are wrapped: one that raises anything but a :class:`D3UserError` is treated as "not
    mine". A refused (non-allow-listed) pickle is reported as such; so is a truncated or corrupt file.
    """
    path = Path(path)
    if not path.exists():
        raise D3UserError(f"{path}: no such checkpoint file or run directory")
    registry = _manager(manager).registry("checkpoint_formats")
    for entry in registry.entries():
        fmt = entry.load()
        try:
            if fmt.detect(path):
                return entry.name, fmt
        except D3UserError:
            raise
        except Exception:  # a plugin's detect() must not break detection of the others
            continue
    if path.is_file():  # say why, when the file is not even a readable torch file
        safe_torch_load(path, mmap=True)
    names = ", ".join(registry.names()) or "none"
    raise D3UserError(f"{path}: no installed checkpoint format recognises it (formats: {names}); original D3 .pth "
                      "runs need the d3-ckpt-legacy plugin")


def _call_with_options(function, *args, **options):
    """Call ``function`` passing only the keyword options its signature names (or all, with ``**kwargs``)."""
    options = {k: v for k, v in options.items() if v is not None}
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        parameters = {}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        options = {k: v for k, v in options.items() if k in parameters}
    return function(*args, **options)


def load_bundle(path: str | os.PathLike, manager=None, *, format: str | None = None,
                **options: Any) -> tuple[str, CheckpointBundle]:
    """``(format name, bundle)`` of any checkpoint a registered format recognises (or the given ``format``).

    ``options`` (e.g. ``arch="Tran"``, ``config="run/hydra/config.yaml"`` for original files) reach the format's
    ``load`` when its signature names them.
    """
    if format:
        name, fmt = get_format(format, manager)
        if not Path(path).exists():
            raise D3UserError(f"{path}: no such checkpoint file or run directory")
    else:
        name, fmt = detect_format(path, manager)
    bundle = _call_with_options(fmt.load, Path(path), **options)
    bundle.source_format = bundle.source_format or name
    return name, bundle


def save_bundle(bundle: CheckpointBundle, format: str, path: str | os.PathLike, manager=None) -> Path:
    """Save ``bundle`` with format ``format`` at ``path`` (the format writes atomically); returns ``path``."""
    _, fmt = get_format(format, manager)
    fmt.save(bundle, Path(path))
    return Path(path)


def convert_checkpoint(source: str | os.PathLike, target: str | os.PathLike, *, to: str = "lightning",
                       manager=None, **options: Any) -> CheckpointBundle:
    """Load ``source`` (any format, or ``options["format"]``) and save it as format ``to`` at ``target``."""
    _, bundle = load_bundle(source, manager, **options)
    save_bundle(bundle, to, target, manager)
    return bundle


# -- parameter order and optimizer state by name -----------------------------------------------------------------------
def plain_config(config: Any) -> Any:
    """OmegaConf containers -> plain dicts/lists (other values unchanged)."""
    try:
        from omegaconf import OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return config
    if OmegaConf.is_config(config):
        return OmegaConf.to_container(config, resolve=True)
    return config


def build_diffusion(config: Any):
    """``(graph, noise)`` of a run config (a DictConfig or plain dict: ``graph.type``, ``tokens``, ``noise.*``)."""
    from d3core.diffusion import build_graph, build_noise

    graph = build_graph(str(config["graph"]["type"]), int(config.get("tokens", 4)))
    noise_cfg = config["noise"]
    if str(noise_cfg["type"]).lower() == "geometric":
        noise = build_noise("geometric", sigma_min=float(noise_cfg["sigma_min"]),
                            sigma_max=float(noise_cfg["sigma_max"]))
    else:
        noise = build_noise("loglinear", eps=float(noise_cfg.get("eps", 1e-3)))
    return graph, noise


def _model_config(config: dict[str, Any], graph_dim: int) -> dict[str, Any]:
    model = dict(config.get("model") or {})
    model["tokens"] = graph_dim
    return model


def build_network(config: dict[str, Any], architecture: str | None = None, *, manager=None, device: Any = None):
    """The score network of a (plain) run config; ``device="meta"`` builds it without allocating weights."""
    import torch

    config = plain_config(config)
    graph, _ = build_diffusion(config)
    arch = _manager(manager).architecture(architecture or config["arch"])
    if device is None:
        return arch.build(_model_config(config, graph.dim))
    with torch.device(device):
        return arch.build(_model_config(config, graph.dim))


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


def optimizer_by_name(state_dict: dict[str, Any] | None, names: list[str], *, source: str = "checkpoint"):
    """An index-keyed optimizer state dict -> the bundle's name-keyed form (counts and shapes checked)."""
    if not state_dict:
        return None
    groups = state_dict.get("param_groups") or []
    count = sum(len(g.get("params", [])) for g in groups)
    if count != len(names):
        raise D3UserError(f"{source}: the optimizer holds {count} parameters but the network has {len(names)}; "
                          "the checkpoint does not belong to this architecture/config")
    index_to_name: dict[int, str] = {}
    named_groups = []
    position = 0
    for group in groups:
        params = []
        for index in group["params"]:
            index_to_name[int(index)] = names[position]
            params.append(names[position])
            position += 1
        named_groups.append({**group, "params": params})
    state = {}
    for index, values in (state_dict.get("state") or {}).items():
        if int(index) not in index_to_name:
            raise D3UserError(f"{source}: optimizer state for parameter index {index}, beyond the "
                              f"{len(names)} parameters of the network")
        state[index_to_name[int(index)]] = values
    return {"state": state, "param_groups": named_groups}


def optimizer_by_index(named: dict[str, Any] | None, names: list[str], shapes: dict[str, tuple] | None = None,
                       *, target: str = "checkpoint") -> dict[str, Any] | None:
    """The bundle's name-keyed optimizer state -> torch's index-keyed form for a network whose parameters are
    ``names`` (in ``parameters()`` order), as one param group; moment shapes checked against ``shapes``."""
    if not named:
        return None
    index = {name: i for i, name in enumerate(names)}
    unknown = [name for name in named.get("state", {}) if name not in index]
    if unknown:
        raise D3UserError(f"{target}: optimizer moments for {len(unknown)} parameter(s) the network does not have "
                          f"(e.g. {unknown[0]}); the checkpoint belongs to another architecture")
    state = {}
    for name, values in named.get("state", {}).items():
        if shapes is not None:
            for key, value in values.items():
                if hasattr(value, "shape") and value.dim() > 0 and tuple(value.shape) != tuple(shapes[name]):
                    raise D3UserError(f"{target}: optimizer {key} of {name} has shape {tuple(value.shape)}, the "
                                      f"parameter {tuple(shapes[name])}")
        state[index[name]] = values
    groups = named.get("param_groups") or [{}]
    group = {k: v for k, v in groups[0].items() if k != "params"}
    group["params"] = list(range(len(names)))
    return {"state": dict(sorted(state.items())), "param_groups": [group]}


# -- models ------------------------------------------------------------------------------------------------------------
def model_from_bundle(bundle: CheckpointBundle, *, use_ema: bool = True, manager=None):
    """Build ``(model, graph, noise)`` from a bundle: the architecture from the registry, weights (EMA by default).

    Loading is strict: a missing or unexpected key, or a shape mismatch, is a :class:`D3UserError`.
    """
    config = plain_config(bundle.config)
    graph, noise = build_diffusion(config)
    architecture = _manager(manager).architecture(bundle.architecture or config["arch"])
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


def parameter_count(bundle: CheckpointBundle, manager=None) -> int:
    """Parameters of the d3 network (buffers excluded when the network can be built, else every tensor)."""
    try:
        network = build_network(bundle.config, bundle.architecture, manager=manager, device="meta")
        return sum(p.numel() for p in network.parameters())
    except Exception:
        return sum(int(t.numel()) for t in bundle.model.values() if hasattr(t, "numel"))
