"""Atomic writes: a file is either the old one or the complete new one, never a truncated mix.

Everything is written to a temporary file in the target's folder (same file system), flushed to disk, then moved
into place with ``os.replace``. Light: no torch import until :func:`atomic_torch_save` is called.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def temporary_path_beside(path: str | os.PathLike) -> Path:
    """A new empty file ``.<name>.XXXX.part`` in the folder of ``path`` (created if needed), for streaming writers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    return Path(name)


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, and move it onto ``path``."""
    path = Path(path)
    tmp = temporary_path_beside(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically (never a truncated checkpoint)."""
    import torch

    return write_atomically(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` atomically."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))
