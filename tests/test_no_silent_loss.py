"""No silent loss (issue 25), tested for real: two ``d3 sample`` processes writing one path, a dead writer's claim, a
SIGTERM mid-write, the umask, a file-size limit hit while streaming, and an ``.npz`` streamed in bounded memory."""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from d3core.atomic import atomic_write_text
from d3core.generation import SampleWriter, read_samples
from d3core.locks import OutputInUse, claim_output
from installed_d3 import D3_SCRIPT, user_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="flock, signals and rlimits are POSIX")

LONG = ["--labels", "dev=1,hk=1", "--num", "200", "--batch-size", "8", "--steps", "12", "--seed", "3", "--no-progress"]
HOLD = ("import sys, time\nfrom d3core.locks import claim_output\nclaim = claim_output(sys.argv[1])\nclaim.__enter__()"
        "\nprint('held', flush=True)\ntime.sleep(300)\n")


def _lock(out: Path) -> Path:
    return out.with_name(f".{out.name}.d3-lock")


def _sample(ckpt: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(D3_SCRIPT), "sample", str(ckpt), *LONG, *extra, "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user_env())


def _wait_until(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"exited early ({process.returncode}): {process.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.slow  # a whole d3 sample run, long enough for two more to start meanwhile
def test_a_second_sample_to_the_same_path_fails_at_once_naming_the_first(trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "designed.fasta"
    first = _sample(ckpt, out)
    _wait_until(lambda: _lock(out).is_file() and b"pid" in _lock(out).read_bytes(), first)
    second = subprocess.run([str(D3_SCRIPT), "sample", str(ckpt), *LONG, "--seed", "4", "-o", str(out)],
                            capture_output=True, text=True, env=user_env(), timeout=300)
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
    assert lines[0].startswith(f"Error: {out}: being written by another process (host {socket.gethostname()}, pid "
                               f"{first.pid} since ")
    assert "running 'd3 sample" in lines[0] and "choose another -o" in lines[0]
    # --force does not steal a live claim either
    forced = subprocess.run([str(D3_SCRIPT), "sample", str(ckpt), *LONG, "--force", "-o", str(out)],
                            capture_output=True, text=True, env=user_env(), timeout=300)
    assert forced.returncode == 2 and "being written by another process" in forced.stderr
    stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    assert "wrote 200 sequences" in stdout and len(read_samples(out)) == 200
    assert read_samples(out).metadata["seed"] == 3  # the first run's file, whole
    assert not _lock(out).exists()


def test_sigterm_removes_the_partial_file_and_the_claim(trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "designed.npz"
    out.write_text("an earlier file")
    process = _sample(ckpt, out, "--force")
    _wait_until(lambda: any(tmp_path.glob(".designed.npz.*.part")), process)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["designed.npz"], "no .part, no lock left behind"
    assert out.read_text() == "an earlier file"


def test_a_dead_writers_claim_is_taken_over(tmp_path):
    out = tmp_path / "designed.fasta"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputInUse, match=f"pid {holder.pid} since .*running "):
            with claim_output(out):
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert json.loads(_lock(out).read_text())["pid"] == holder.pid  # SIGKILL: the file stays, its flock is gone
    with pytest.warns(UserWarning, match=f"{out}: taking over the claim left by a process that is no longer alive "
                                         f".*pid {holder.pid}"):
        with claim_output(out):
            atomic_write_text(out, "mine")
    assert out.read_text() == "mine" and not _lock(out).exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cleanly released claim leaves nothing to take over
        with pytest.raises(Exception, match="already exists; choose another -o or pass --force"):
            with claim_output(out):
                pass


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "whole.txt", "x")
        with SampleWriter(tmp_path / "streamed.fasta", ["dev"], {"length": 4}) as writer:
            writer.write(np.zeros((2, 4), np.uint8), np.ones((2, 1)))
    finally:
        os.umask(previous)
    for name in ("whole.txt", "streamed.fasta"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


STREAM_UNDER_LIMIT = """
import resource, sys
import numpy as np
from d3core.generation import SampleWriter
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
with SampleWriter(sys.argv[1], ["dev"], {"length": 200}) as writer:
    for _ in range(100):
        writer.write(np.zeros((32, 200), np.uint8), np.ones((32, 1)))
"""


@pytest.mark.parametrize("name", ["big.fasta", "big.csv", "big.npz", "big.h5"])
def test_a_file_size_limit_while_streaming_is_one_line(tmp_path, name):
    out = tmp_path / name
    result = subprocess.run([sys.executable, "-c", STREAM_UNDER_LIMIT, str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"d3core.atomic.NoSpaceError: cannot write {out}: the file exceeds this process's "
                           "file-size limit (ulimit -f: 0.1 MB)"), result.stderr
    assert last.endswith("nothing was written; free some space or write elsewhere")
    assert list(tmp_path.iterdir()) == [], "no partial file, no spool"


def test_a_dataset_file_over_a_file_size_limit_is_one_line(tmp_path):
    out = tmp_path / "big.h5"
    result = subprocess.run([str(D3_SCRIPT), "data", "synth", "deepstarr", "--n", "2000", "--out", str(out)],
                            capture_output=True, text=True, timeout=120, env=user_env(),
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024)))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: cannot write {out}: the file exceeds this process's file-size limit")
    assert list(tmp_path.iterdir()) == [], "no partial file"


def test_npz_streams_in_memory_independent_of_the_number_of_rows(tmp_path):
    chunk, chunks, length = 4096, 24, 249  # 24 MB of tokens in 1 MB chunks
    rng = np.random.default_rng(0)
    block = rng.integers(0, 4, (chunk, length), dtype=np.uint8)
    tracemalloc.start()
    try:
        with SampleWriter(tmp_path / "big.npz", ["dev", "hk"], {"length": length}) as writer:
            for i in range(chunks):
                writer.write(block, np.full((chunk, 2), i, np.float32), np.arange(chunk) + i * chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * block.nbytes, f"peak {peak / 1e6:.1f} MB for {chunks * block.nbytes / 1e6:.0f} MB of tokens"
    back = read_samples(tmp_path / "big.npz")
    assert back.tokens.shape == (chunk * chunks, length) and np.array_equal(back.tokens[-chunk:], block)
    assert back.labels[-1].tolist() == [chunks - 1] * 2 and back.rows[-1] == chunk * chunks - 1
    assert back.label_names == ["dev", "hk"] and back.metadata["length"] == length
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz"], "the spools are gone"
