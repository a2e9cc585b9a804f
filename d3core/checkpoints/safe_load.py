"""Safe loading: ``torch.load(weights_only=True)`` with an explicit allow-list; a file that needs anything else to
unpickle is refused and nothing in it is executed."""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Any

from d3core.errors import D3UserError, one_line

__all__ = ["UnsafeCheckpointError", "allowed_globals", "safe_torch_load"]


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
