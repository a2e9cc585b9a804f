"""Resume: a resumed run continues exactly where the uninterrupted one was; a SIGKILLed run resumes from last.ckpt."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

D3 = Path(sys.executable).with_name("d3")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(path, weights_only=True)
    return {**checkpoint["state_dict"], **{f"ema.{k}": v for k, v in checkpoint["d3_ema"]["shadow"].items()}}


def test_resumed_training_matches_uninterrupted_training(d3_cli, tiny_args, tmp_path):
    deterministic = [*tiny_args, "--seed", "5", "lightning.deterministic=true", "--logger", "csv"]
    full = d3_cli("train", *deterministic, "--work_dir", tmp_path / "full", "--max_steps", "24")
    assert full.exit_code == 0, full.output
    first = d3_cli("train", *deterministic, "--work_dir", tmp_path / "split", "--max_steps", "13")
    assert first.exit_code == 0, first.output
    # 256 rows / batch 16 = 16 batches per epoch: step 13 is mid-epoch, so the data order must be restored too
    second = d3_cli("train", "--work_dir", tmp_path / "split", "--resume_from", "last", "--max_steps", "24")
    assert second.exit_code == 0, second.output
    expected, resumed = _weights(tmp_path / "full" / "checkpoints" / "last.ckpt"), _weights(
        tmp_path / "split" / "checkpoints" / "last.ckpt")
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=0, atol=1e-6, msg=name)
    after = torch.load(tmp_path / "split" / "checkpoints" / "last.ckpt", weights_only=True)
    assert after["global_step"] == 24 and after["d3_ema"]["num_updates"] == 24
    assert after["lr_schedulers"][0]["last_epoch"] == 24


def test_resume_conflicting_model_flag_is_refused(d3_cli, copied_tiny_run):
    result = d3_cli("train", "--work_dir", copied_tiny_run, "--resume_from", "last", "model.hidden_size=128")
    assert result.exit_code == 2 and "model.hidden_size=128 conflicts with the checkpoint" in result.output


def test_sigkilled_run_resumes_from_last_checkpoint(tiny_args, tmp_path):
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    command = [str(D3), "train", *tiny_args, "--work_dir", str(run), "--max_steps", "100000",
               "lightning.checkpoint.every_n_train_steps=3"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and not (last.exists() and torch.load(last, weights_only=True)["global_step"] >= 6):
            time.sleep(0.5)
            assert process.poll() is None, process.stderr.read().decode()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = torch.load(last, weights_only=True)["global_step"]
    assert killed_at >= 6 and killed_at % 3 == 0
    resumed = subprocess.run([str(D3), "train", "--work_dir", str(run), "--resume_from", "last",
                              "--max_steps", str(killed_at + 4)], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"d3: finished at step {killed_at + 4}" in resumed.stdout
    assert torch.load(last, weights_only=True)["global_step"] == killed_at + 4
