"""An ``.npz`` written chunk by chunk, in memory independent of the number of rows.

An ``.npy`` header holds the array's shape, which a stream learns only at its end, and a compressed zip member cannot
be rewritten. So each growing array is spooled raw to a temporary file beside the target (a ``.part`` of
:func:`d3core.atomic.temporary_path_beside`: hidden, removed on failure, swept when its writer died), and
:meth:`NpzColumns.write_npz` writes the finished archive member by member: the header with the final shape, then the
spooled bytes copied through in blocks (``zipfile`` deflates as ``numpy.savez_compressed`` does; ``np.load`` reads
the result). The spools take the uncompressed size on disk until the archive is written.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from d3core.atomic import sigterm_held, temporary_path_beside

__all__ = ["NpzColumns"]

_BLOCK = 1 << 20


class _Spool:
    """The raw rows of one array so far: dtype, the shape after the first axis, the row count."""

    def __init__(self, path: Path, dtype: np.dtype, trailing: tuple[int, ...]):
        self.path, self.dtype, self.trailing, self.rows = path, dtype, trailing, 0
        self.handle: BinaryIO = open(path, "wb")

    def append(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=self.dtype)
        if array.shape[1:] != self.trailing:
            raise ValueError(f"rows of shape {array.shape[1:]} appended to an array of rows {self.trailing}")
        self.handle.write(array.tobytes())
        self.rows += array.shape[0]


class NpzColumns:
    """Arrays growing along their first axis (:meth:`append`), zipped with fixed ones into an ``.npz`` at the end."""

    def __init__(self, beside: str | Path):
        self.beside = Path(beside)
        self._spools: dict[str, _Spool] = {}

    def append(self, name: str, array: np.ndarray) -> None:
        """Add rows to array ``name`` (its dtype and row shape are those of its first chunk)."""
        array = np.asarray(array)
        if name not in self._spools:
            with sigterm_held():  # the spool is recorded (so discard removes it) before a SIGTERM can end us
                self._spools[name] = _Spool(temporary_path_beside(self.beside), array.dtype, array.shape[1:])
        self._spools[name].append(array)

    def __contains__(self, name: str) -> bool:
        return name in self._spools

    def drop(self, name: str) -> None:
        """Leave array ``name`` out of the archive (and remove its spool)."""
        spool = self._spools.pop(name, None)
        if spool is not None:
            spool.handle.close()
            spool.path.unlink(missing_ok=True)

    def write_npz(self, path: str | Path, fixed: dict[str, np.ndarray]) -> None:
        """Write the archive to ``path``: every appended array, then the ``fixed`` ones; the spools are removed."""
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for name, spool in self._spools.items():
                spool.handle.close()
                header = {"descr": np.lib.format.dtype_to_descr(spool.dtype), "fortran_order": False,
                          "shape": (spool.rows, *spool.trailing)}
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member, open(spool.path, "rb") as raw:
                    np.lib.format.write_array_header_1_0(member, header)
                    shutil.copyfileobj(raw, member, _BLOCK)
            for name, value in fixed.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
        self.discard()

    def discard(self) -> None:
        """Close and remove the spools (never raises)."""
        for spool in self._spools.values():
            try:
                spool.handle.close()
            except OSError:
                pass
            spool.path.unlink(missing_ok=True)
        self._spools.clear()

