"""The layout of an original D3 run directory, and which files and directories are original checkpoints.

An original run (spec §7)::

    <run>/hydra/config.yaml            (or .hydra/config.yaml) the hydra config
    <run>/checkpoints/checkpoint.pth   what the original load_model_local reads (and a downloaded release)
    <run>/checkpoints/checkpoint_N.pth snapshots every snapshot_freq steps
    <run>/checkpoints-meta/checkpoint.pth   the pre-emption snapshot

Each ``.pth`` holds ``{model, ema, optimizer, step}``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from d3core.api import D3UserError, UnsafeCheckpointError, safe_torch_load

#: where the original keeps its hydra config, in the order looked at
ORIGINAL_CONFIGS = ("hydra/config.yaml", ".hydra/config.yaml")
#: the keys of every original checkpoint file
ORIGINAL_CHECKPOINT_KEYS = frozenset({"model", "ema", "optimizer", "step"})
#: what ``d3 convert --to legacy`` writes inside the output directory
CHECKPOINT_PATH = Path("checkpoints") / "checkpoint.pth"
CONFIG_PATH = Path("hydra") / "config.yaml"
_SNAPSHOT = re.compile(r"checkpoint_(\d+)\.pth$")
_CHECKPOINT_FOLDERS = ("checkpoints", "checkpoints-meta")


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
    main = run_dir / CHECKPOINT_PATH
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

    Files are read with ``safe_torch_load`` (memory-mapped): a file that would need arbitrary code raises
    ``UnsafeCheckpointError``; an unreadable one is simply not an original checkpoint. A path that does not exist is
    a :class:`D3UserError` (a typo is not an answer "no").
    """
    path = Path(path)
    if path.is_dir():
        return is_original_run_dir(path)
    if not path.exists():
        raise D3UserError(f"{path}: no such checkpoint file or run directory")
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


def run_name(path: str | os.PathLike) -> tuple[str, Path] | None:
    """``(name, folder)`` for a checkpoint file inside an original run (``<run>/checkpoints/...``): the run's name
    (``<run>``, ``<run>-checkpoint_N``, ``<run>-meta``) and the folder holding the run; None for any other file."""
    path = Path(path)
    folder = path.parent
    if folder.name not in _CHECKPOINT_FOLDERS or original_config_file(folder.parent) is None:
        return None
    run = folder.parent
    if folder.name == "checkpoints-meta":
        return f"{run.name}-meta", run.parent
    return (run.name if path.stem == "checkpoint" else f"{run.name}-{path.stem}"), run.parent


def locate(path: str | os.PathLike, config: str | os.PathLike | None = None) -> tuple[Path, Path, Path | None]:
    """``(checkpoint file, config file, run directory or None)`` for a run directory or a lone ``.pth``.

    A lone file takes its config from ``config`` (``--legacy_config``), else ``<dir>/{hydra,.hydra}/config.yaml``,
    else ``<dir>/../{hydra,.hydra}/config.yaml``.
    """
    path = Path(path)
    if path.is_dir():
        if not is_original_run_dir(path):
            raise D3UserError(f"{path}: not an original D3 run directory (needs hydra/config.yaml or "
                              ".hydra/config.yaml and checkpoints/checkpoint.pth, checkpoints/checkpoint_N.pth or "
                              "checkpoints-meta/checkpoint.pth)")
        checkpoint = original_run_checkpoints(path)[0]
        config_file = Path(config) if config else original_config_file(path)
        return checkpoint, config_file, path
    config_file = Path(config) if config else None
    run_dir = None
    for directory in (path.parent, path.parent.parent):
        found = original_config_file(directory)
        if found is not None:
            run_dir = directory
            config_file = config_file or found
            break
    if config_file is None:
        raise D3UserError(f"{path}: an original D3 checkpoint without its run config (no hydra/config.yaml or "
                          ".hydra/config.yaml beside it or one level up); pass the run's config with "
                          "--legacy_config PATH/config.yaml")
    if not config_file.is_file():
        raise D3UserError(f"--legacy_config {config_file}: no such file")
    return path, config_file, run_dir
