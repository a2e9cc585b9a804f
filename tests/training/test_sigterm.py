"""SIGTERM (a scheduler's pre-emption notice) saves a resumable last.ckpt and exits cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

D3 = Path(sys.executable).with_name("d3")


def test_sigterm_saves_a_resumable_checkpoint_and_exits_cleanly(tiny_args, tmp_path):
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    env["PYTHONPATH"] = str(Path(__file__).parent)
    process = subprocess.Popen([str(D3), "train", *tiny_args, "--work_dir", str(run), "--max_steps", "100000",
                                "--callback", "probes:MarkStep"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    marker, deadline = run / "step.txt", time.time() + 120
    while time.time() < deadline and not (marker.exists() and marker.read_text().strip() not in ("", "0", "1")):
        time.sleep(0.2)
        assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "d3: stopped by SIGTERM at step" in stdout and "--resume_from last" in stdout
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    stopped_at = saved["global_step"]
    assert stopped_at >= 2 and saved["d3_ema"]["num_updates"] == stopped_at
    # the checkpoint's config names the user's callback module: resuming imports it only when typed again
    resumed = subprocess.run([str(D3), "train", "--work_dir", str(run), "--resume_from", "last", "--max_steps",
                              str(stopped_at + 2), "--callback", "probes:MarkStep"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == stopped_at + 2
