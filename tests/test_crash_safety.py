"""A process killed (SIGKILL) while saving never leaves a corrupt ``last.ckpt`` or half an HDF5 file.

Real processes write real files; the test kills them while their temporary ``.part`` file is being written, checks
that the target is the previous complete version (or absent), and that the next write to the same target sweeps the
dead writer's leftover (:func:`d3core.atomic.remove_stale_temporaries`).
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d3core.atomic import remove_stale_temporaries, temporary_path_beside, writer_tag
from installed_d3 import D3_SCRIPT

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and the stale-temporary sweep are POSIX-only")

ROWS = 4 * 1024 * 1024  # int64: a 32 MB checkpoint

# Imports first (slow), then waits for a line on stdin, then saves {"version": v, "state": [v] * ROWS} in a loop,
# continuing from the version in the file.
SAVER = f"""
import sys
from pathlib import Path
import torch
from d3core.training.atomic_io import AtomicCheckpointIO
sys.stdin.readline()
path = Path(sys.argv[1])
version = torch.load(path, weights_only=True)["version"] + 1 if path.exists() else 0
state = torch.empty({ROWS}, dtype=torch.int64)
io = AtomicCheckpointIO()
while True:
    io.save_checkpoint({{"version": version, "state": state.fill_(version)}}, path)
    version += 1
"""


def _temporaries(folder: Path, name: str, pid: int | None = None) -> list[Path]:
    """Temporary files of target ``name`` in ``folder`` (of the writer ``pid`` only, when given)."""
    writer = "*" if pid is None else f"*-{pid}"
    return sorted(folder.glob(f".{name}.{writer}.*.part"))


def _wait_for_growing_temporary(proc: subprocess.Popen, folder: Path, name: str, min_bytes: int,
                                ready=lambda: True, delay: float = 0.0, timeout: float = 60.0) -> tuple[Path, int]:
    """Poll until ``proc``'s temporary of ``name`` holds more than ``min_bytes`` (and ``ready()``); return it, size.

    With ``delay``, wait that long after first seeing it and look again, so kills land at different moments.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"writer exited early ({proc.returncode}): {proc.stderr.read().decode()}"
        for tmp in _temporaries(folder, name, proc.pid) if ready() else []:
            try:
                if tmp.stat().st_size > min_bytes:
                    if delay:
                        time.sleep(delay)
                        delay = 0.0
                        break
                    return tmp, tmp.stat().st_size
            except FileNotFoundError:  # the save finished meanwhile: wait for the next one
                pass
        time.sleep(0.001)
    raise AssertionError(f"no temporary of {name} over {min_bytes} bytes from pid {proc.pid} within {timeout} s")


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL and reap (a zombie would still count as a living process)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.slow
def test_checkpoint_killed_mid_save_is_the_last_complete_version(tmp_path):
    import torch

    ckpt = tmp_path / "last.ckpt"
    # all savers import torch and Lightning at once; each starts saving when the previous one has been killed
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(ckpt)], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(3)]
    version, leftover = -1, None
    try:
        for proc, delay in zip(savers, (0.0, 0.005, 0.02)):
            before = ckpt.stat().st_ino if ckpt.exists() else None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            saved = lambda: ckpt.exists() and ckpt.stat().st_ino != before  # this process saved at least once
            tmp, size = _wait_for_growing_temporary(proc, tmp_path, ckpt.name, 0, ready=saved, delay=delay)
            _kill(proc)
            assert size > 0 and tmp.exists(), "the kill did not land in the middle of a save"
            if leftover is not None:
                assert not leftover.exists(), "the next save did not sweep the killed writer's temporary"
            leftover = tmp
            loaded = torch.load(ckpt, weights_only=True)
            assert loaded["version"] > version  # the new process continued from the file and saved
            version = loaded["version"]
            assert loaded["state"].shape == (ROWS,) and bool((loaded["state"] == version).all())
    finally:
        for proc in savers:
            proc.kill()
            proc.wait()
    assert remove_stale_temporaries(ckpt) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("existed", [True, False], ids=["replacing", "new"])
def test_hdf5_killed_mid_write_leaves_the_old_file_or_none(tmp_path, existed, run_d3):
    out = tmp_path / "ds.h5"
    if existed:
        assert run_d3("data", "synth", "deepstarr", "--n", "64", "--out", str(out)).returncode == 0
        digest = _sha256(out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    proc = subprocess.Popen([str(D3_SCRIPT), "data", "synth", "deepstarr", "--n", "400000", "--out", str(out),
                             "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        tmp, _ = _wait_for_growing_temporary(proc, tmp_path, out.name, 8_000_000)
        _kill(proc)
    finally:
        proc.kill()
        proc.wait()
    assert tmp.exists(), "the kill did not land in the middle of the write"
    if existed:
        assert _sha256(out) == digest
        info = run_d3("data", "info", str(out))
        assert info.returncode == 0, info.stdout + info.stderr
    else:
        assert not out.exists()
    again = run_d3("data", "synth", "deepstarr", "--n", "64", "--out", str(out), "--force")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.h5"]  # the killed writer's temporary was swept


def test_sweep_removes_only_dead_writers_temporaries_of_this_target_on_this_host(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead_tag = writer_tag(dead.pid)
    host, namespace, _ = dead_tag.rsplit("-", 2)
    try:
        names = {
            "stale": f".x.h5.{dead_tag}.abc_12.part",
            "living writer": f".x.h5.{writer_tag(alive.pid)}.abc_12.part",
            "this process": f".x.h5.{writer_tag()}.abc_12.part",
            "other host": f".x.h5.other-node-{namespace}-{dead.pid}.abc_12.part",
            "other pid namespace (a container with the same host name)": f".x.h5.{host}-{namespace}7-{dead.pid}"
                                                                          ".abc_12.part",
            "other target": f".y.h5.{dead_tag}.abc_12.part",
            "other target with a similar name": f".x.h5.{host}-{namespace}-1.h5.{dead_tag}.abc_12.part",
            "not a temporary": f"x.h5.{dead_tag}.abc_12.part",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"partial")
        undeletable = tmp_path / f".x.h5.{dead_tag}.zzz.part"
        undeletable.mkdir()  # unlink fails: left alone, no error
        fresh = temporary_path_beside(tmp_path / "x.h5")
        assert fresh.name.startswith(f".x.h5.{writer_tag()}.") and fresh.suffix == ".part"
        left = {p.name for p in tmp_path.iterdir()}
        assert names.pop("stale") not in left
        assert set(names.values()) | {undeletable.name, fresh.name} == left
    finally:
        alive.kill()
        alive.wait()
