"""Two processes with DDP on the CPU (gloo), launched by Lightning from the installed ``d3`` command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

D3 = Path(sys.executable).with_name("d3")


@pytest.mark.slow
def test_two_process_ddp_shares_one_run_directory_and_ends_in_step(tiny_args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    args = [a for a in tiny_args if a != "lightning.accelerator=cpu"]
    runs = tmp_path / "runs"
    result = subprocess.run(
        [str(D3), "train", *args, "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--max_steps", "6",
         "--callback", "probes:SaveRankWeights", "--work_dir", str(runs / "ddp")],
        env={**env, "PYTHONPATH": str(Path(__file__).parent)}, cwd=tmp_path, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in runs.iterdir()] == ["ddp"], "all ranks must share one run directory"
    run = runs / "ddp"
    assert (run / "config.yaml").exists() and (run / "plugins.txt").exists()
    rank0, rank1 = (torch.load(run / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between ranks"
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 6
    assert checkpoint["d3_config"]["lightning"]["devices"] == 2
    for name, value in rank0.items():
        assert torch.equal(checkpoint["state_dict"][name], value)
