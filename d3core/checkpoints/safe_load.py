"""Safe loading: ``torch.load(weights_only=True)`` with an explicit allow-list; a file that needs anything else to
unpickle is refused and nothing in it is executed."""
from __future__ import annotations

import os
import re
import zipfile
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Sequence

from d3core.errors import D3UserError, one_line

__all__ = ["UnsafeCheckpointError", "allowed_globals", "forget_load", "loads_remembered", "safe_torch_load"]

#: within :func:`loads_remembered`: ``{(real path, size, mtime_ns): content or the error it raised}``
_REMEMBERED: ContextVar[dict | None] = ContextVar("d3_remembered_loads", default=None)


class UnsafeCheckpointError(D3UserError):
    """A checkpoint needs a non-allow-listed object to unpickle (possibly code): refused, nothing executed."""


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


@contextmanager
def loads_remembered():
    """Within the block, :func:`safe_torch_load` reads each file once: format detection, naming and the load itself
    share one read (``d3 convert --recursive`` of a model zoo). A file changed since it was read is read again; each
    caller gets its own copy of the dicts and lists (the tensors are shared, memory-mapped for zip-format files).
    :func:`forget_load` drops a file once it is done with."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return os.path.realpath(path), stat.st_size, stat.st_mtime_ns


def forget_load(path: str | os.PathLike) -> None:
    """Drop what :func:`loads_remembered` keeps of ``path`` (no-op outside it)."""
    remembered = _REMEMBERED.get()
    if remembered is not None:
        real = os.path.realpath(path)
        for key in [key for key in remembered if key[0] == real]:
            del remembered[key]


def _containers_copied(obj: Any) -> Any:
    """``obj`` with its dicts, lists and tuples copied (leaves shared), so one caller's edits do not reach another."""
    if isinstance(obj, dict):
        return {key: _containers_copied(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_containers_copied(value) for value in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_containers_copied(value) for value in obj)
    return obj


def safe_torch_load(path: str | os.PathLike, *, mmap: bool = False, extra_globals: Sequence[Any] = ()) -> Any:
    """:func:`read_torch_file`, or within :func:`loads_remembered` the content (or the error) of its first read with
    the same ``extra_globals``."""
    remembered = _REMEMBERED.get()
    key = _file_key(Path(path)) if remembered is not None else None
    if key is None:
        return read_torch_file(path, mmap=mmap, extra_globals=extra_globals)
    key = (*key, tuple(_global_name(item) for item in extra_globals))
    if key not in remembered:
        try:
            remembered[key] = read_torch_file(path, mmap=True, extra_globals=extra_globals)
        except D3UserError as exc:
            remembered[key] = exc
    found = remembered[key]
    if isinstance(found, D3UserError):
        raise found
    return _containers_copied(found)


def _global_name(item: Any) -> str:
    target = item[0] if isinstance(item, tuple) else item
    return f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}"


def read_torch_file(path: str | os.PathLike, *, mmap: bool = False, extra_globals: Sequence[Any] = ()) -> Any:
    """``torch.load(weights_only=True)`` with :func:`allowed_globals`; never unpickles arbitrary objects.

    ``extra_globals``: what one format's files need besides (e.g. d3-ckpt-d3dna: the OmegaConf config classes that
    d3-dna pickles into its checkpoints), allowed for this read only; the format that reads its files passes them,
    so no other format's reads are widened.

    A refused object raises :class:`UnsafeCheckpointError` ("refused: <file> holds a non-allow-listed object
    <name>"); an unreadable file (corrupt, truncated, not a torch file) a one-line :class:`D3UserError`.
    ``mmap=True`` maps tensors lazily (only for zip-format files; older files are read normally).
    """
    import pickle

    import torch

    path = Path(path)
    try:
        use_mmap = bool(mmap) and zipfile.is_zipfile(path)
        with torch.serialization.safe_globals([*allowed_globals(), *extra_globals]):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as exc:
        text = one_line(exc, with_type=False)
        found = _GLOBAL_NAME.search(text)
        if found:
            raise UnsafeCheckpointError(
                f"refused: {path} holds a non-allow-listed object {found.group(1)}; d3 loads checkpoints with "
                "torch.load(weights_only=True) and never unpickles arbitrary code") from exc
        detail = text.split("WeightsUnpickler error:", 1)[-1].split(" Check the documentation")[0].strip()
        raise D3UserError(f"{path}: not a readable torch checkpoint (corrupt or not a torch file: "
                          f"{detail[:160]})") from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        text = one_line(exc, with_type=False).split(". ")[0]
        hint = " -- truncated or corrupt" if "central directory" in text or "zip archive" in text else ""
        raise D3UserError(f"{path}: not a readable torch checkpoint{hint} ({text[:160]})") from exc
    except Exception as exc:  # garbage bytes drive the restricted unpickler into any error (IndexError, KeyError...)
        raise D3UserError(f"{path}: not a readable torch checkpoint (corrupt or not a torch file: "
                          f"{one_line(exc)[:160]})") from exc
