"""A lost rank: when a process of a multi-process run dies (killed, out of memory, its node lost), the others fail in
their next collective (gloo at once, on the broken connection; NCCL when its watchdog times out). That failure
becomes one line saying what happened and how to resume, and the ranks this process launched are stopped, so nothing
is left waiting for the dead one.
"""
from __future__ import annotations

import re
import signal
from pathlib import Path

from d3core.errors import D3UserError, one_line

__all__ = ["LostProcess", "lost_process_error", "stop_launched_ranks"]

#: what torch.distributed's backends say when a peer is gone
PEER_LOST = re.compile(r"connection (reset|closed) by peer|broken pipe|socket timeout|"
                       r"timed out|nccl communicator was aborted|watchdog caught collective operation timeout|"
                       r"nccl error|gloo.*(read|write) error|peer .* closed", re.IGNORECASE)


class LostProcess(D3UserError):
    """Another process of the run stopped; the run is resumable from its last checkpoint. Exit code 75
    (``EX_TEMPFAIL``: a scheduler may simply resubmit the job)."""

    exit_code = 75


def _is_peer_loss(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RuntimeError) and PEER_LOST.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def lost_process_error(exc: BaseException, *, processes: int, step: int, run_dir: Path) -> LostProcess | None:
    """The :class:`LostProcess` that ``exc`` means in a run of ``processes`` processes stopped at optimizer step
    ``step``, or None when ``exc`` is something else (or the run has one process)."""
    if processes <= 1 or not _is_peer_loss(exc):
        return None
    from d3core.training.divergence import last_good_checkpoint

    detail = one_line(exc, with_type=False).split(". This is typically")[0][:200]
    good = last_good_checkpoint(run_dir / "checkpoints")
    resume = (f"the last checkpoint is {good[0]} (step {good[1]}); resume with: d3 train --work_dir {run_dir} "
              "--resume_from last" if good else "no checkpoint was written yet; start the run again")
    return LostProcess(f"training lost a process of its {processes}-process run at step {step} (killed, out of "
                       f"memory, or its node lost?): {detail}; the other processes were stopped; {resume}")


def stop_launched_ranks(trainer) -> None:
    """SIGKILL the ranks Lightning launched from this process (those still alive), so none waits for a dead peer."""
    procs = getattr(getattr(trainer.strategy, "launcher", None), "procs", None) or []
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
