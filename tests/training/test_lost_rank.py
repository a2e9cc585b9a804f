"""A lost rank: in a real 2-process CPU DDP run (gloo) launched by the installed ``d3``, SIGKILL one rank; the other
exits within a bounded time with one clear line (not a hang, not a traceback), and the run resumes from its last
checkpoint."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d3core.checkpoints import load_bundle

D3 = Path(sys.executable).with_name("d3")
BOUND_S = 90  # the survivor must be gone this long after the kill (gloo notices a dead peer in seconds)


def _start(tiny_args, run, cwd, max_steps: int, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    args = [a for a in tiny_args if a != "lightning.accelerator=cpu"]
    command = [str(D3), "train", *map(str, args), "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
               "--max_steps", str(max_steps), "--work_dir", str(run), "--logger", "csv",
               "lightning.checkpoint.every_n_train_steps=2", *extra]
    return subprocess.Popen(command, env={**env, "PYTHONPATH": str(Path(__file__).parent)}, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _running(tiny_args, tmp_path, run):
    """A 2-process run that has written a checkpoint: ``(launcher process, rank 0 pid, rank 1 pid)``."""
    process = _start(tiny_args, run, tmp_path, 100_000, "--callback", "probes:RankPids")
    pids = [run / "rank0.pid", run / "rank1.pid"]
    _wait_for(lambda: all(p.exists() for p in pids) and (run / "checkpoints" / "last.ckpt").exists()
              or process.poll() is not None, 300, "both ranks and a checkpoint")
    assert process.poll() is None, process.communicate()[1][-3000:]
    return process, int(pids[0].read_text()), int(pids[1].read_text())


@pytest.mark.slow
def test_killing_rank_1_stops_rank_0_with_one_line_and_the_run_resumes(tiny_args, tmp_path):
    run = tmp_path / "run"
    process, rank0, rank1 = _running(tiny_args, tmp_path, run)
    assert rank0 == process.pid  # rank 0 is the d3 command itself; Lightning launched rank 1
    os.kill(rank1, signal.SIGKILL)
    killed = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"rank 0 still running {BOUND_S} s after rank 1 was killed")
    took = time.monotonic() - killed
    assert process.returncode == 75, stderr[-3000:]
    errors = re.findall(r"Error: [^\r\n]*", stderr)
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert "training lost a process of its 2-process run at step" in errors[0]
    assert f"resume with: d3 train --work_dir {run} --resume_from last" in errors[0]
    print(f"rank 0 exited {took:.1f} s after rank 1 was killed")
    step = load_bundle(run / "checkpoints" / "last.ckpt")[1].step
    # the checkpoint's config names the test's callback module: a resumed run imports it only when typed again
    resumed = _start(tiny_args, run, tmp_path, step + 2, "--resume_from", "last", "--callback", "probes:RankPids")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert f"finished at step {step + 2}" in out
    assert load_bundle(run / "checkpoints" / "last.ckpt")[1].step == step + 2


@pytest.mark.slow
def test_killing_rank_0_stops_rank_1(tiny_args, tmp_path):
    run = tmp_path / "run"
    process, rank0, rank1 = _running(tiny_args, tmp_path, run)
    os.kill(rank0, signal.SIGKILL)
    process.communicate(timeout=60)
    _wait_for(lambda: not _alive(rank1), BOUND_S, f"rank 1 (pid {rank1}) to exit after rank 0 was killed")
