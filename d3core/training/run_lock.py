"""One run per directory: a live ``d3 train`` holds ``<run dir>/.d3-run.lock``, so a second one on the same run
directory is refused with the holder's host and pid, and a lock left by a run that died is taken over with a warning.

The mechanism (``flock``, the holder's JSON, dead holders) is :class:`d3core.locks.PathLock`, shared with the claim
every command takes on its output file (:func:`d3core.locks.claim_output`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from d3core.errors import D3UserError
from d3core.locks import PathLock, holder_text

__all__ = ["LOCK_NAME", "RunDirectoryInUse", "RunLock", "check_run_directory_free"]

#: the lock file inside a run directory
LOCK_NAME = ".d3-run.lock"


class RunDirectoryInUse(D3UserError):
    """Another live ``d3 train`` holds the run directory."""


class RunLock(PathLock):
    """The lock of one run directory; a context manager (``with RunLock(run_dir): train()``).

    :meth:`acquire` creates the directory if needed (one that cannot be created is a one-line error naming it), and
    raises :class:`RunDirectoryInUse` naming the holder when a live process holds it; a lock left by a dead run is
    taken over with a ``warnings.warn`` line naming that run.
    """

    choose = "another --work_dir"

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        super().__init__(self.run_dir / LOCK_NAME)

    def refusal(self, holder: dict[str, Any]) -> RunDirectoryInUse:
        return RunDirectoryInUse(
            f"run directory {self.run_dir} is in use by another d3 train ({holder_text(holder)}); wait for it to "
            f"finish or stop it, or choose {self.choose} (if that run is gone, delete {self.path})")

    def takeover_warning(self, holder: dict[str, Any]) -> str:
        return (f"run directory {self.run_dir}: taking over the lock left by a run that is no longer alive "
                f"({holder_text(holder)})")


def check_run_directory_free(run_dir: str | os.PathLike) -> None:
    """Raise :class:`RunDirectoryInUse` when a live process holds ``run_dir``'s lock; take nothing (a dry run and
    the checks before training call this; :class:`RunLock` takes the lock when training starts)."""
    RunLock(run_dir).check_free()
