"""An HDF5 file opened for writing whose failed writes HDF5 never sees.

When a write fails for lack of room (``ulimit -f``, a full disk, a quota), HDF5 (1.14 and 2.0 alike) is left with
dirty metadata it can neither flush nor drop, and the Python process dies of a segmentation fault at exit, after d3
has printed its one-line error and deleted the temporary file. :class:`H5Output` therefore hands h5py a Python file
object (h5py's file-object driver) that keeps the first ``OSError`` of a write to itself and lets the rest of the
writes go nowhere; HDF5 closes cleanly, and :meth:`H5Output.close` then raises that ``OSError``, which
:func:`d3core.atomic.reporting_no_room` turns into the usual one-line message.
"""
from __future__ import annotations

import os
from typing import Any, Callable


class _HeldErrorFile:
    """A binary file that records the first ``OSError`` of ``write``, ``truncate`` or ``flush`` instead of raising it;
    after that, writes are dropped (the file is deleted anyway)."""

    def __init__(self, path: str | os.PathLike):
        self._file = open(path, "w+b", buffering=0)  # unbuffered: a failed write fails in write, not in a later seek
        self.error: OSError | None = None

    def _guarded(self, call: Callable[..., Any], *args, when_failed: Any = None) -> Any:
        if self.error is None:
            try:
                return call(*args)
            except OSError as exc:
                self.error = exc
        return when_failed

    def write(self, data) -> int:
        return self._guarded(self._file.write, data, when_failed=memoryview(data).nbytes)

    def truncate(self, size: int | None = None) -> int | None:
        return self._guarded(self._file.truncate, size, when_failed=size)

    def flush(self) -> None:
        self._guarded(self._file.flush)

    def readinto(self, buffer) -> int:
        return self._file.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class H5Output:
    """``h5py.File`` ``file`` written at ``path``; :meth:`raise_if_failed` after a batch of writes stops early,
    :meth:`close` finishes the file and raises the held ``OSError`` if any write failed, :meth:`discard` closes
    without raising."""

    def __init__(self, path: str | os.PathLike):
        import h5py

        self._raw = _HeldErrorFile(path)
        try:
            self.file = h5py.File(self._raw, "w")
        except BaseException:
            self._raw.close()
            raise

    def raise_if_failed(self) -> None:
        """Raise the held ``OSError`` (closing the file first) if a write has failed."""
        if self._raw.error is not None:
            self.close()

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            self._raw.close()
        if self._raw.error is not None:
            raise self._raw.error

    def discard(self) -> None:
        try:
            self.close()
        except Exception:  # the partial file is deleted by the caller; nothing here is worth reporting
            pass
