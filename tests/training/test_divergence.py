"""Divergence: a real NaN (a data row whose activity overflows the label embedding) stops training with one line
naming the step and the last good checkpoint; no checkpoint holds the diverged step; after the row is fixed,
``--resume_from last`` continues from the good checkpoint."""
from __future__ import annotations

import re
import shutil

import h5py
import pytest
import torch

from d3core.checkpoints import load_bundle
from d3core.data.sampler import EpochSeededBatchSampler

BATCH, SEED = 16, 42
BAD_STEP = 6  # the optimizer step whose batch holds the bad row


@pytest.fixture
def bad_row_file(deepstarr_file, tmp_path):
    """A copy of the data file whose activity in one training row is 3e38: finite (so the file passes d3's data
    checks, as a sentinel value would), but it overflows to inf inside the network and the loss becomes NaN."""
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path / "ds.h5"
    shutil.copy(deepstarr_file, path)
    rows = len(DeepSTARR().open_split(path, "train"))
    order = EpochSeededBatchSampler(rows, BATCH, seed=SEED).epoch_order(0)
    row = order[(BAD_STEP - 1) * BATCH]
    with h5py.File(path, "r+") as f:
        f["Y_train"][row, 0] = 3e38
    return path, row


def _finite_weights(path) -> bool:
    _, bundle = load_bundle(path)
    return all(torch.isfinite(t).all() for t in bundle.model.values())


def test_a_nan_loss_stops_training_and_never_becomes_a_checkpoint(d3_cli, tiny_args, bad_row_file, tmp_path):
    data, row = bad_row_file
    run = tmp_path / "run"
    args = [*tiny_args, "--data", data, "--work_dir", run, "--seed", SEED, "--batch_size", BATCH,
            "--val_check_interval", "3", "lightning.checkpoint.every_n_train_steps=2"]
    result = d3_cli("train", *args, "--max_steps", "10")
    assert result.exit_code == 2, result.output
    errors = re.findall(r"Error: [^\r\n]*", result.output)  # after the progress bar's last \r
    assert len(errors) == 1, result.output
    last = run / "checkpoints" / "last.ckpt"
    assert f"training diverged at optimizer step {BAD_STEP}: the training loss is nan" in errors[0]
    assert f"the last good checkpoint is {last} (step 4)" in errors[0]
    assert f"continue with: d3 train --work_dir {run} --resume_from last" in errors[0]
    assert "Traceback" not in result.output
    saved = {p.name: load_bundle(p)[1].step for p in (run / "checkpoints").glob("*.ckpt")}
    assert saved and max(saved.values()) < BAD_STEP, saved  # neither last.ckpt nor a top-k holds the bad step
    assert all(_finite_weights(p) for p in (run / "checkpoints").glob("*.ckpt"))

    fixed = tmp_path / "fixed.h5"  # the user fixes the row, then continues from the good checkpoint
    shutil.copy(data, fixed)
    with h5py.File(fixed, "r+") as f:
        f["Y_train"][row, 0] = 1.0
    resumed = d3_cli("train", *args, "--data", fixed, "--resume_from", "last", "--max_steps", "8")
    assert resumed.exit_code == 0, resumed.output
    assert "finished at step 8" in resumed.output
    assert load_bundle(last)[1].step == 8 and _finite_weights(last)


def test_a_divergence_before_any_checkpoint_says_so(d3_cli, tiny_args, tmp_path):
    """A learning rate of 1e30 overflows the weights in its first step; nothing was saved yet."""
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "5", "optim.lr=1e30", "optim.warmup=0",
                    "optim.grad_clip=0")
    assert result.exit_code == 2, result.output
    assert "training diverged at optimizer step 2: the training loss is" in result.output
    assert "no checkpoint was written before it" in result.output
    assert not list((run / "checkpoints").glob("*.ckpt")) if (run / "checkpoints").exists() else True
