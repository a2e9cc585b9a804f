"""One run per directory: a live ``d3 train`` holds ``<run dir>/.d3-run.lock``, so a second one on the same run
directory is refused with the holder's host and pid, and a lock left by a run that died is taken over with a warning.

Liveness is an advisory ``flock`` on the lock file: the kernel releases it when the holding process ends, however it
ends (SIGKILL and out-of-memory kills included), and Linux's NFS client maps it to a POSIX lock the server keeps, so
it holds across the nodes of a cluster file system too. The file itself says who holds it (JSON: host, pid, start
time), for the message. Where the file system has no locks at all, a holder on this host is probed by its pid and a
holder on another host is assumed alive (the message says how to take over by hand).
"""
from __future__ import annotations

import errno
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from d3core.errors import D3UserError

__all__ = ["LOCK_NAME", "RunDirectoryInUse", "RunLock", "check_run_directory_free"]

#: the lock file inside a run directory
LOCK_NAME = ".d3-run.lock"


class RunDirectoryInUse(D3UserError):
    """Another live ``d3 train`` holds the run directory."""


def _holder_text(holder: dict[str, Any]) -> str:
    started = holder.get("started")
    since = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) \
        else ""
    return f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}{since}"


def _read_holder(handle) -> dict[str, Any]:
    handle.seek(0)
    try:
        holder = json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _alive_without_flock(holder: dict[str, Any]) -> bool:
    """Where ``flock`` is unsupported: a holder on this host is alive when its pid is; one elsewhere is assumed so."""
    if holder.get("host") != socket.gethostname():
        return bool(holder)
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, TypeError):
        return int(holder.get("pid", 0) or 0) > 0
    return True


class RunLock:
    """The lock of one run directory; a context manager (``with RunLock(run_dir): train()``).

    :meth:`acquire` creates the directory if needed, and raises :class:`RunDirectoryInUse` naming the holder when a
    live process holds it; a lock left by a dead run is taken over with a ``warnings.warn`` line naming that run.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._handle = None

    def _refusal(self, holder: dict[str, Any]) -> RunDirectoryInUse:
        return RunDirectoryInUse(
            f"run directory {self.run_dir} is in use by another d3 train ({_holder_text(holder)}); wait for it to "
            f"finish or stop it, or choose another --work_dir (if that run is gone, delete {self.path})")

    def acquire(self) -> None:
        import fcntl

        self.run_dir.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(handle)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) or _alive_without_flock(holder):
                    handle.close()
                    raise self._refusal(holder) from None
            try:  # the holder we waited on may have removed the file meanwhile: lock the file that is there now
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        previous = _read_holder(handle)
        if previous:
            warnings.warn(f"run directory {self.run_dir}: taking over the lock left by a run that is no longer alive "
                          f"({_holder_text(previous)})", stacklevel=2)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Remove the lock file and unlock (no-op when not held)."""
        if self._handle is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def check_run_directory_free(run_dir: str | os.PathLike) -> None:
    """Raise :class:`RunDirectoryInUse` when a live process holds ``run_dir``'s lock; take nothing (a dry run and
    the checks before training call this; :class:`RunLock` takes the lock when training starts)."""
    path = Path(run_dir) / LOCK_NAME
    if not path.is_file():
        return
    import fcntl

    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(handle)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) or _alive_without_flock(holder):
                raise RunLock(run_dir)._refusal(holder) from None
