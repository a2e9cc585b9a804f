"""Atomic writes: a file is either the old one or the complete new one, never a truncated mix.

Everything is written to a temporary file in the target's folder (same file system), flushed to disk, then moved
into place with ``os.replace``. Light: no torch import until :func:`atomic_torch_save` is called. A write that
fails for lack of room (a full disk, a quota, ``ulimit -f``) is a one-line :class:`NoSpaceError` naming the path and
the space needed; the previous file stays.

A process killed mid-write (SIGKILL, out of memory, a node lost) cannot delete its temporary file. Temporary names
therefore carry the writer's host, process-id namespace and process id, ``.<name>.<host>-<ns>-<pid>.<random>.part``,
and the next :func:`temporary_path_beside` for the same target removes those left by processes that no longer exist
in this very host and namespace (containers sharing a host name and a file system have different namespaces).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

from d3core.errors import D3UserError


def _host() -> str:
    """This machine's host name, reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "unknown-host"


def _pid_namespace() -> str:
    """The inode of this process's pid namespace (Linux), so that a pid is only compared within its namespace."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def _this_machine() -> str:
    """``<host>-<pid namespace>-``: the part of a writer tag shared by every process of this host and namespace."""
    return f"{_host()}-{_pid_namespace()}-"


def writer_tag(pid: int | None = None) -> str:
    """``<host>-<pid namespace>-<pid>``: who wrote a temporary file (default: this process)."""
    return f"{_this_machine()}{os.getpid() if pid is None else pid}"


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left on this host by processes that no longer exist; return what was removed.

    Only names ``.<name>.<this host>-<this pid namespace>-<pid>.<random>.part`` of this very target are candidates,
    and only when process ``pid`` is gone: temporaries of other hosts (a shared cluster file system), of other
    containers and of living processes are never touched. Never raises: a temporary that cannot be removed is left
    for a later sweep. Only on POSIX systems, where ``os.kill(pid, 0)`` merely probes.
    """
    path = Path(path)
    if os.name != "posix":
        return []
    pattern = re.compile(re.escape(f".{path.name}.{_this_machine()}") + r"(\d+)\.[a-z0-9_]+\.part")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or int(match[1]) <= 0 or _process_exists(int(match[1])):
            continue
        try:
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def temporary_path_beside(path: str | os.PathLike) -> Path:
    """A new empty file ``.<name>.<writer tag>.<random>.part`` in the folder of ``path`` (created if needed).

    For streaming writers, which move it onto ``path`` when done. Leftovers of killed writers of the same target on
    this host are removed first (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.{writer_tag()}.", suffix=".part", dir=path.parent)
    os.close(handle)
    return Path(name)


def _move_into_place(tmp: Path, path: Path) -> None:
    """fsync the finished temporary file, then rename it onto ``path`` (one atomic step)."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


#: what a failed write reports when there is no room for the file: a full disk, a quota, a file-size limit
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class NoSpaceError(D3UserError):
    """A write failed for lack of room (a full disk, an exhausted quota, a file-size limit); the file that was at
    the path before is unchanged and the partial one is removed."""


def _no_room_errno(exc: BaseException) -> int | None:
    """The errno of :data:`_NO_ROOM` behind ``exc`` (torch reports the ``OSError`` of a failed write as the context
    of its own ``RuntimeError``), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None


def _megabytes(size: float) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def no_space_error(path: Path, code: int, needed: int | None, existed: bool) -> NoSpaceError:
    """The one-line :class:`NoSpaceError` for a write of about ``needed`` bytes to ``path`` that failed with
    ``code`` (ENOSPC, EDQUOT or EFBIG): the path, why, the space needed and free, and what was kept."""
    if code == errno.EFBIG:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        shown = "unlimited" if limit == resource.RLIM_INFINITY else _megabytes(limit)
        reason = f"the file exceeds this process's file-size limit (ulimit -f: {shown})"
    else:
        reason = "the disk quota is exhausted" if code == errno.EDQUOT else "no space left on the device"
    try:
        free = f"{_megabytes(shutil.disk_usage(path.parent).free)} free there"
    except OSError:
        free = "free space unknown"
    size = f"it needs about {_megabytes(needed)}, " if needed else ""
    kept = f"the previous {path.name} is unchanged" if existed else "nothing was written"
    return NoSpaceError(f"cannot write {path}: {reason}; {size}{free}; {kept}; free some space or write elsewhere")


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any], *, size_hint: int | None = None) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, and move it onto ``path``.

    A write that fails for lack of room raises :class:`NoSpaceError` (``size_hint``: the bytes the file needs, for
    the message); the temporary file is removed and what was at ``path`` stays as it was."""
    path = Path(path)
    existed = path.exists()
    tmp = temporary_path_beside(path)
    try:
        write(tmp)
        _move_into_place(tmp, path)
    except (OSError, RuntimeError) as exc:
        code = _no_room_errno(exc)
        if code is None:
            raise
        raise no_space_error(path, code, size_hint, existed) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


class AtomicWriter:
    """Base of streaming writers whose file appears under its name only when complete.

    A subclass writes into :attr:`tmp` (a temporary file beside :attr:`path`) and implements :meth:`_finish` (write
    what is left and close its handles) and :meth:`_discard` (close its handles, quietly). Used as a context manager,
    the file is committed when the block ends without an exception; otherwise the temporary file is removed and a file
    already at :attr:`path` is left untouched::

        with MyWriter(out) as writer:
            writer.write(chunk)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.tmp = temporary_path_beside(self.path)
        self._open = True

    def _finish(self) -> None:
        """Write what is left into :attr:`tmp` and close it (subclasses)."""

    def _discard(self) -> None:
        """Close the handles on :attr:`tmp` without finishing it (subclasses; must not raise)."""

    def commit(self) -> Path:
        """Finish the file and move it onto :attr:`path` (fsync first); returns :attr:`path`."""
        if self._open:
            try:
                self._finish()
                _move_into_place(self.tmp, self.path)
            except BaseException:
                self.abort()
                raise
            self._open = False
        return self.path

    def abort(self) -> None:
        """Drop the partial file (what was at :attr:`path` before stays)."""
        if self._open:
            self._open = False
            try:
                self._discard()
            finally:
                self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in ``obj`` (nested dicts, lists and tuples): about what ``torch.save`` writes."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.nelement() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(value) for value in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(value) for value in obj)
    return 0


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically (never a truncated checkpoint); no room for it is a :class:`NoSpaceError`."""
    import torch

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # through a Python file, so a failed write keeps its errno
            torch.save(obj, handle)

    return write_atomically(path, write, size_hint=tensor_bytes(obj))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` atomically."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))
