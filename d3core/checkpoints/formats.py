"""Checkpoint formats: lookup by name, detection by content, and load/save/convert through any registered format."""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from d3core.checkpoints.bundle import CheckpointBundle
from d3core.checkpoints.safe_load import UnsafeCheckpointError, safe_torch_load
from d3core.config import check_loaded_config
from d3core.errors import D3UserError
from d3core.plugins import get_plugin_manager

__all__ = ["call_with_options", "config_from_foreign_file", "convert_checkpoint", "detect_format", "format_suffix",
           "get_format", "load_bundle", "save_bundle"]


def get_format(name: str, manager=None) -> tuple[str, Any]:
    """``(registered name, format object)`` of format ``name`` (aliases and ``dist:name`` accepted)."""
    entry = (manager or get_plugin_manager()).registry("checkpoint_formats").get(name)
    return entry.name, entry.load()


def format_suffix(name: str, fmt: Any) -> str:
    """What a converted checkpoint's name ends with: ``fmt.suffix`` (``""`` = a directory), else ``"." + name``."""
    suffix = getattr(fmt, "suffix", None)
    return f".{name}" if suffix is None else str(suffix)


def detect_format(path: str | os.PathLike, manager=None) -> tuple[str, Any]:
    """``(format name, format object)`` of the first registered format whose ``detect`` accepts ``path``.

    Third-party ``detect`` calls are wrapped: one that raises anything but a :class:`D3UserError` is treated as "not
    mine". A refused (non-allow-listed) pickle is reported as such -- after the other formats had their turn, since a
    format may allow what its own files need (``safe_torch_load(extra_globals=...)``); so is a truncated or corrupt
    file.
    """
    path = Path(path)
    if not path.exists():
        raise D3UserError(f"{path}: no such checkpoint file or run directory")
    registry = (manager or get_plugin_manager()).registry("checkpoint_formats")
    refused: UnsafeCheckpointError | None = None
    for entry in registry.entries():
        fmt = entry.load()
        try:
            if fmt.detect(path):
                return entry.name, fmt
        except UnsafeCheckpointError as exc:
            refused = refused or exc
        except D3UserError:
            raise
        except Exception:  # a plugin's detect() must not break detection of the others
            continue
    if refused is not None:
        raise refused
    if path.is_file():  # say why, when the file is not even a readable torch file
        safe_torch_load(path, mmap=True)
    names = ", ".join(registry.names()) or "none"
    raise D3UserError(f"{path}: no installed checkpoint format recognises it (formats: {names}); original D3 .pth "
                      "runs need the d3-ckpt-legacy plugin")


def config_from_foreign_file(path: str | os.PathLike, manager=None, **options: Any) -> tuple[str, dict] | None:
    """``(format name, d3 settings)`` from the first registered format whose ``config_from_file`` recognises the YAML
    file at ``path`` as its own kind of run config (e.g. an original D3 config, read by d3-ckpt-legacy), else None.

    ``options`` (e.g. ``arch="Tran"``) reach ``config_from_file`` when its signature names them. A third-party reader
    that raises anything but a :class:`D3UserError` is treated as "not mine", as :func:`detect_format` does."""
    registry = (manager or get_plugin_manager()).registry("checkpoint_formats")
    for entry in registry.entries():
        reader = getattr(entry.load(), "config_from_file", None)
        if reader is None:
            continue
        try:
            settings = call_with_options(reader, Path(path), **options)
        except D3UserError:
            raise
        except Exception:
            continue
        if settings is not None:
            return entry.name, dict(settings)
    return None


def call_with_options(function, *args, **options):
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
    """``(format name, bundle)`` of any checkpoint a registered format recognises (or the given ``format``); the
    bundle's run config passes the checks of a typed one (:func:`~d3core.config.check_loaded_config`).

    ``options`` (e.g. ``arch="Tran"``, ``config="path/to/config.yaml"`` for original files) reach the format's
    ``load`` when its signature names them.
    """
    if format:
        name, fmt = get_format(format, manager)
        if not Path(path).exists():
            raise D3UserError(f"{path}: no such checkpoint file or run directory")
    else:
        name, fmt = detect_format(path, manager)
    bundle = call_with_options(fmt.load, Path(path), **options)
    bundle.source_format = bundle.source_format or name
    check_loaded_config(bundle.config, f"checkpoint {path}")
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
