"""Exclusive claims on paths: one live writer per output file, output folder or run directory.

A :class:`PathLock` holds an advisory ``flock`` on a lock file for as long as the work runs. The kernel releases it
when the holding process ends, however it ends (SIGKILL and out-of-memory kills included), and Linux's NFS client
maps it to a POSIX lock the server keeps, so it holds across the nodes of a cluster file system too. The file itself
says who holds it (JSON: host, pid, start time, command), for the message of a refused second writer. A lock file
left by a process that died is taken over with a warning naming that process. Where the file system has no locks at
all, a holder on this host is probed by its pid and a holder on another host is assumed alive (the message says how
to take over by hand).

Two users: ``d3 train``'s run directory (:mod:`d3core.training.run_lock`) and every command's output
(:func:`claim_output`: ``d3 sample -o out.fasta`` holds ``.out.fasta.d3-lock`` beside it from the start of the run to
the rename of the finished file, so a second ``d3 sample -o out.fasta`` is refused at once instead of both writing
and one file silently winning).
"""
from __future__ import annotations

import errno
import json
import os
import shlex
import socket
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from d3core.atomic import make_folder, on_sigterm_exit, unwritable_error
from d3core.errors import D3UserError

__all__ = ["OutputInUse", "OutputClaim", "PathLock", "claim_output"]

#: the lock file of an output ``<name>``, beside it
OUTPUT_LOCK = ".{name}.d3-lock"
_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def _command() -> str:
    """This process's command line, shortened, for the message a refused second writer shows."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = shlex.join(words)
    return text if len(text) <= 160 else text[:157] + "..."


def holder_text(holder: dict[str, Any]) -> str:
    """``host h, pid 12 since 2025-01-01 10:00:00, running 'd3 sample ...'`` of a lock file's JSON."""
    started = holder.get("started")
    since = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) \
        else ""
    command = f", running '{holder['command']}'" if holder.get("command") else ""
    return f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}{since}{command}"


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


class PathLock:
    """An exclusive lock on ``lock_path``; a context manager. Subclasses say what it guards (:meth:`refusal`,
    :meth:`takeover_warning`) and which flag the user changes to write elsewhere (:attr:`choose`).

    :meth:`acquire` creates the lock file's folder if needed (a folder that cannot be created or written is a
    one-line :class:`D3UserError`), and raises :meth:`refusal` naming the holder when a live process holds it; a lock
    left by a dead process is taken over with a ``warnings.warn`` line naming that process.
    """

    #: what a refused user is told to choose instead, e.g. ``another -o``
    choose = "another path"

    def __init__(self, lock_path: str | os.PathLike):
        self.path = Path(lock_path)
        self._handle = None

    def refusal(self, holder: dict[str, Any]) -> D3UserError:
        """The error for a live holder (subclasses)."""
        return D3UserError(f"{self.path} is held by another process ({holder_text(holder)}); choose {self.choose} "
                           f"(if that process is gone, delete {self.path})")

    def takeover_warning(self, holder: dict[str, Any]) -> str:
        """The warning when the lock of a dead holder is taken over (subclasses)."""
        return f"{self.path}: taking over the lock left by a process that is no longer alive ({holder_text(holder)})"

    def _open(self):
        try:
            return open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            error = unwritable_error(self.path.parent, exc, choose=self.choose)
            if error is None:
                raise
            raise error from None

    def acquire(self) -> None:
        import fcntl

        make_folder(self.path.parent, choose=self.choose)
        while True:
            handle = self._open()
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(handle)
                if exc.errno in _BUSY or _alive_without_flock(holder):
                    handle.close()
                    raise self.refusal(holder) from None
            try:  # the holder we waited on may have removed the file meanwhile: lock the file that is there now
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        previous = _read_holder(handle)
        if previous:
            warnings.warn(self.takeover_warning(previous), stacklevel=3)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
                                 "command": _command()}))
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

    def check_free(self) -> None:
        """Raise :meth:`refusal` when a live process holds the lock; take nothing (for checks before the work)."""
        if not self.path.is_file():
            return
        import fcntl

        with open(self.path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(handle)
                if exc.errno in _BUSY or _alive_without_flock(holder):
                    raise self.refusal(holder) from None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class OutputInUse(D3UserError):
    """Another live process is writing the same output path."""


class OutputClaim(PathLock):
    """The claim on one output (a file, or a folder of results): the lock file ``.<name>.d3-lock`` beside it."""

    def __init__(self, output: str | os.PathLike, *, flag: str = "-o"):
        self.output = Path(output)
        self.choose = f"another {flag}"
        super().__init__(self.output.with_name(OUTPUT_LOCK.format(name=self.output.name)))

    def refusal(self, holder: dict[str, Any]) -> OutputInUse:
        return OutputInUse(f"{self.output}: being written by another process ({holder_text(holder)}); wait for it "
                           f"to finish or choose {self.choose} (if that process is gone, delete {self.path})")

    def takeover_warning(self, holder: dict[str, Any]) -> str:
        return (f"{self.output}: taking over the claim left by a process that is no longer alive "
                f"({holder_text(holder)})")


@contextmanager
def claim_output(path: str | os.PathLike, *, overwrite: bool = False, flag: str = "-o",
                 folder: bool = False) -> Iterator[Path]:
    """Hold ``path`` for the whole of a command's run: ``with claim_output(out, overwrite=force): ... write out``.

    Refuses, each in one line: a path whose folder cannot be created or written; a path another live process
    claims (:class:`OutputInUse`, naming it); an existing ``path`` unless ``overwrite`` (checked once the claim is
    held, so no other d3 process can create it before this one's rename); a folder where a file is expected, or
    the reverse (``folder``: the output is a folder of results). A SIGTERM meanwhile ends the process as SIGINT
    does, releasing the claim (exit status 143).
    """
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        raise D3UserError(f"{path}: is a {'file' if folder else 'folder'}; {flag} needs a {kind} name")
    created = [f for f in (path.parent, *path.parent.parents) if not f.exists()]  # deepest first
    try:
        with on_sigterm_exit(), OutputClaim(path, flag=flag):
            if path.exists() and not overwrite and (not folder or any(path.iterdir())):
                raise D3UserError(f"{path}: already exists; choose another {flag} or pass --force to replace it")
            yield path
    finally:  # a run that wrote nothing leaves no empty folders behind
        for made in created:
            try:
                made.rmdir()
            except OSError:
                break
