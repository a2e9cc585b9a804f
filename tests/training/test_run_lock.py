"""One run per directory: a second ``d3 train`` on a run directory a live process holds is refused with the holder's
host and pid; the lock a killed run leaves behind is taken over with a warning (real processes, real ``flock``)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import pytest

from d3core.training.run_lock import LOCK_NAME, RunDirectoryInUse, RunLock

HOLD = ("import sys, time\nfrom d3core.training.run_lock import RunLock\nlock = RunLock(sys.argv[1])\nlock.acquire()\n"
        "print('held', flush=True)\ntime.sleep(300)\n")


@pytest.fixture
def holder():
    """``holder(run_dir)``: another process holding the run directory's lock (killed at the end)."""
    started = []

    def start(run_dir):
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=30)


def _kill(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_a_live_holder_is_named_and_a_dead_ones_lock_is_taken_over(tmp_path, holder):
    run = tmp_path / "run"
    process = holder(run)
    with pytest.raises(RunDirectoryInUse) as caught:
        RunLock(run).acquire()
    message = str(caught.value)
    assert f"run directory {run} is in use by another d3 train (host {socket.gethostname()}, pid {process.pid}" in \
        message and "choose another --work_dir" in message and "\n" not in message
    _kill(process)  # SIGKILL: nothing could clean up; the lock file stays, its flock is gone with the process
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == process.pid
    with pytest.warns(UserWarning, match=f"taking over the lock left by a run that is no longer alive .*pid "
                                         f"{process.pid}"):
        lock = RunLock(run)
        lock.acquire()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (run / LOCK_NAME).exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cleanly released lock leaves nothing to take over
        with RunLock(run):
            pass


def test_d3_train_refuses_a_held_run_directory_and_resumes_after_its_holder_died(d3_cli, tiny_args, copied_tiny_run,
                                                                                  holder):
    run = copied_tiny_run  # finished at step 20
    assert not (run / LOCK_NAME).exists(), "a finished run releases its directory"
    process = holder(run)
    for extra in ((), ("--dry_run",)):
        refused = d3_cli("train", *tiny_args, "--work_dir", run, "--resume_from", "last", "--max_steps", "22", *extra)
        assert refused.exit_code == 2
        assert f"is in use by another d3 train (host {socket.gethostname()}, pid {process.pid}" in refused.output
    _kill(process)
    with pytest.warns(UserWarning, match=f"taking over the lock .*pid {process.pid}"):
        resumed = d3_cli("train", *tiny_args, "--work_dir", run, "--resume_from", "last", "--max_steps", "22")
    assert resumed.exit_code == 0, resumed.output
    assert "finished at step 22" in resumed.output and not (run / LOCK_NAME).exists()


def test_a_dead_runs_lock_alone_does_not_make_the_directory_a_run(d3_cli, tiny_args, tmp_path, holder):
    run = tmp_path / "run"
    _kill(holder(run))  # died before writing anything else
    with pytest.warns(UserWarning, match="taking over the lock"):
        result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "1")
    assert result.exit_code == 0, result.output
