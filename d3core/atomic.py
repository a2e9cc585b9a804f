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
