"""Atomic writes: a file is either the old one or the complete new one, never a truncated mix.

Everything is written to a temporary file in the target's folder (same file system), flushed to disk, then moved
into place with ``os.replace``. Light: no torch import until :func:`atomic_torch_save` is called. A write that
fails for lack of room (a full disk, a quota, ``ulimit -f``) is a one-line :class:`NoSpaceError` naming the path and
the space needed; the previous file stays.

The finished file gets the permissions any Unix tool gives a new file (``0666`` less the umask), not the ``0600`` of
the temporary file. A SIGTERM (schedulers, ``scancel``, ``docker stop``) while a file is written ends the process as
SIGINT does: the temporary file is removed and the process exits with status 143 (:func:`on_sigterm_exit`). A folder
that cannot be created or written is a one-line :class:`NotWritable` naming it and the fix.

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
import signal
import socket
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

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


class NotWritable(D3UserError):
    """An output's folder cannot be created or written (a read-only file system, no permission, a file in the way)."""


#: why a folder cannot take a new file, by errno (a file in the way: :func:`_file_in_the_way`)
_UNWRITABLE = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EROFS: "a read-only file system", errno.ENOTDIR: None, errno.EEXIST: None}


def _file_in_the_way(folder: Path) -> str:
    """``<path> is a file, not a folder``: the first of ``folder`` and its parents that exists and is no folder."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
    return f"{blocker} is a file, not a folder"


def unwritable_error(folder: Path, exc: OSError, *, target: Path | None = None,
                     choose: str = "another path") -> D3UserError | None:
    """The one-line error for ``exc``, raised when creating ``folder`` or a file in it (``target``, for the message):
    :class:`NotWritable` (no permission, read-only, a file where a folder is needed) or :class:`NoSpaceError`; None
    for other errors."""
    code = _no_room_errno(exc)
    if code is not None:
        return no_space_error(target or folder, code, None, existed=False)
    if exc.errno not in _UNWRITABLE:
        return None
    return _not_writable(folder, _UNWRITABLE[exc.errno] or _file_in_the_way(folder), choose)


def _not_writable(folder: Path, reason: str, choose: str) -> NotWritable:
    return NotWritable(f"cannot write into folder {folder}: {reason}; choose {choose}, or make {folder} a folder you "
                       "can write to")


def check_folder_can_be_made(folder: str | os.PathLike, *, choose: str = "another path") -> None:
    """Raise the one-line error :func:`make_folder` would, without creating anything (for checks before the work):
    the nearest existing one of ``folder`` and its parents must be a folder this process may write into."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise _not_writable(folder, _file_in_the_way(folder), choose)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _not_writable(folder, f"{existing} is not writable (permission denied or a read-only file system)",
                            choose)


def make_folder(folder: str | os.PathLike, *, choose: str = "another path") -> Path:
    """Create ``folder`` (and its parents) if needed; a folder that cannot be made is a one-line error."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error = unwritable_error(folder, exc, choose=choose)
        if error is None:
            raise
        raise error from None
    return folder


def _umask() -> int:
    """This process's umask (read from ``/proc`` where possible: setting it to read it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_path_beside(path: str | os.PathLike) -> Path:
    """A new empty file ``.<name>.<writer tag>.<random>.part`` in the folder of ``path`` (created if needed), with
    the permissions of a new file under the umask.

    For streaming writers, which move it onto ``path`` when done. Leftovers of killed writers of the same target on
    this host are removed first (:func:`remove_stale_temporaries`). A folder that cannot be written is a one-line
    :class:`NotWritable` (or :class:`NoSpaceError`).
    """
    path = Path(path)
    make_folder(path.parent)
    remove_stale_temporaries(path)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.{writer_tag()}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        error = unwritable_error(path.parent, exc, target=path)
        if error is None:
            raise
        raise error from None
    try:
        os.fchmod(handle, 0o666 & ~_umask())
    finally:
        os.close(handle)
    return Path(name)


#: the exit status of a process ended by SIGTERM (128 + 15), as a shell reports it
SIGTERM_STATUS = 128 + signal.SIGTERM
_sigterm_depth = [0]
_sigterm_held = [0]  # depth of sigterm_held blocks; a SIGTERM within one is pending until the outermost ends
_sigterm_pending = [False]


def _exit_on_sigterm(signum, frame) -> None:
    if _sigterm_held[0]:
        _sigterm_pending[0] = True  # raised when the held block ends (sigterm_held)
        return
    raise SystemExit(SIGTERM_STATUS)


@contextmanager
def on_sigterm_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` where it would kill the process outright, so ``finally``
    blocks and context managers clean up (partial files, locks) as on Ctrl-C, and the process still exits non-zero.

    Only where nobody else handles SIGTERM (the default action is installed; Lightning's handler during training is
    left alone) and in the main thread (the only one that may set handlers). Nested blocks share one handler.
    """
    if threading.current_thread() is not threading.main_thread() or \
            (not _sigterm_depth[0] and signal.getsignal(signal.SIGTERM) != signal.SIG_DFL):
        yield
        return
    if not _sigterm_depth[0]:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _sigterm_depth[0] += 1
    try:
        yield
    finally:
        _sigterm_depth[0] -= 1
        if not _sigterm_depth[0]:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def sigterm_held() -> Iterator[None]:
    """A SIGTERM that arrives within the block ends the process when the block ends, not inside it: for a step that
    creates a file and records its name, which a ``SystemExit`` between the two (:func:`on_sigterm_exit`) would leave
    behind unrecorded. (A flag, not the signal mask: any of torch's threads may take a process's signal.)"""
    _sigterm_held[0] += 1
    try:
        yield
    finally:
        _sigterm_held[0] -= 1
    if not _sigterm_held[0] and _sigterm_pending[0]:
        _sigterm_pending[0] = False
        raise SystemExit(SIGTERM_STATUS)


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


#: HDF5 reports a failed write's errno only in its message (h5py raises it as an OSError or RuntimeError)
_HDF5_ERRNO = re.compile(r"\berrno = (\d+)")


def _no_room_errno(exc: BaseException) -> int | None:
    """The errno of :data:`_NO_ROOM` behind ``exc`` (torch reports the ``OSError`` of a failed write as the context
    of its own ``RuntimeError``; HDF5 in its message), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
            return exc.errno
        if isinstance(exc, (OSError, RuntimeError)) and exc.args:
            match = _HDF5_ERRNO.search(str(exc))
            if match and int(match[1]) in _NO_ROOM:
                return int(match[1])
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


@contextmanager
def reporting_no_room(path: Path, *, existed: bool, size_hint: int | None = None) -> Iterator[None]:
    """Turn a failed write to ``path`` for lack of room (also one torch wraps in a ``RuntimeError``) into the one-line
    :class:`NoSpaceError`; other errors pass unchanged. The one mechanism of every writer, whole-file or streaming."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        code = _no_room_errno(exc)
        if code is None:
            raise
        raise no_space_error(path, code, size_hint, existed) from exc


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any], *, size_hint: int | None = None) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, and move it onto ``path``.

    A write that fails for lack of room raises :class:`NoSpaceError` (``size_hint``: the bytes the file needs, for
    the message); the temporary file is removed and what was at ``path`` stays as it was, also on SIGTERM."""
    path = Path(path)
    existed = path.exists()
    with on_sigterm_exit():
        tmp = None
        try:
            with sigterm_held():
                tmp = temporary_path_beside(path)
            with reporting_no_room(path, existed=existed, size_hint=size_hint):
                write(tmp)
                _move_into_place(tmp, path)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    return path


class AtomicWriter:
    """Base of streaming writers whose file appears under its name only when complete.

    A subclass writes into :attr:`tmp` (a temporary file beside :attr:`path`) and implements :meth:`_open_handles`
    (open what it writes with; called at the end of ``__init__``), :meth:`_finish` (write what is left and close its
    handles) and :meth:`_discard` (close the handles that are open, quietly). A failure or a SIGTERM while the writer
    is being built leaves no temporary file behind. Used as a context manager,
    the file is committed when the block ends without an exception; otherwise the temporary file is removed and a file
    already at :attr:`path` is left untouched (also on SIGTERM: :func:`on_sigterm_exit` holds while the writer is
    open). A write inside the block that finds no room (a full disk, a quota, ``ulimit -f``) is the one-line
    :class:`NoSpaceError`::

        with MyWriter(out) as writer:
            writer.write(chunk)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._existed = self.path.exists()
        self._sigterm = on_sigterm_exit()
        self._sigterm.__enter__()
        self._open = True
        self.tmp: Path | None = None
        try:
            with sigterm_held():
                self.tmp = temporary_path_beside(self.path)
            self._open_handles()
        except BaseException:
            self.abort()
            raise

    def _open_handles(self) -> None:
        """Open the handles that write into :attr:`tmp` (subclasses)."""

    def _finish(self) -> None:
        """Write what is left into :attr:`tmp` and close it (subclasses)."""

    def _discard(self) -> None:
        """Close the handles on :attr:`tmp` without finishing it (subclasses; must not raise)."""

    def commit(self) -> Path:
        """Finish the file and move it onto :attr:`path` (fsync first); returns :attr:`path`."""
        if self._open:
            with reporting_no_room(self.path, existed=self._existed):
                try:
                    self._finish()
                    _move_into_place(self.tmp, self.path)
                except BaseException:
                    self.abort()
                    raise
            self._open = False
            self._sigterm.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Drop the partial file (what was at :attr:`path` before stays)."""
        if self._open:
            self._open = False
            try:
                self._discard()
            finally:
                if self.tmp is not None:
                    self.tmp.unlink(missing_ok=True)
                self._sigterm.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
            return
        self.abort()
        code = _no_room_errno(exc)
        if code is not None:
            raise no_space_error(self.path, code, None, self._existed) from exc


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
