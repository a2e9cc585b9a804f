"""Atomic writes: a file is either the old one or the complete new one, never a truncated mix.

Everything is written to a temporary file in the target's folder (same file system), flushed to disk, then moved
into place with ``os.replace``. Light: no torch import until :func:`atomic_torch_save` is called.

A process killed mid-write (SIGKILL, out of memory, a node lost) cannot delete its temporary file. Temporary names
therefore carry the writer's host, process-id namespace and process id, ``.<name>.<host>-<ns>-<pid>.<random>.part``,
and the next :func:`temporary_path_beside` for the same target removes those left by processes that no longer exist
in this very host and namespace (containers sharing a host name and a file system have different namespaces).
"""
from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable


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


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, and move it onto ``path``."""
    path = Path(path)
    tmp = temporary_path_beside(path)
    try:
        write(tmp)
        _move_into_place(tmp, path)
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
