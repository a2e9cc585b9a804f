"""Valid trainer settings pass the early checks (the bad ones are in the error catalogue), a ``d3 train`` run
directory works wherever a checkpoint is expected, and the rank check does not import Lightning."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("devices", ['"2"', '"-1"', "[0, 1]", '"0,1"', "2", "auto"])
def test_device_spellings_lightning_accepts_pass_the_config_check(d3_cli, tiny_args, tmp_path, devices):
    config = tmp_path / "devices.yaml"
    config.write_text(f"lightning:\n  devices: {devices}\n  accelerator: cpu\n")
    result = d3_cli("train", *tiny_args, "--config_path", config, "--dry_run")
    assert result.exit_code == 0, result.output
    assert "#   accelerator  cpu" in result.output.splitlines()


@pytest.mark.parametrize("strategy", ["ddp", "ddp_find_unused_parameters_true", "fsdp_cpu_offload"])
def test_strategies_from_lightnings_registry_pass(d3_cli, tiny_args, strategy):
    result = d3_cli("train", *tiny_args, "--strategy", strategy, "--dry_run")
    assert result.exit_code == 0, result.output


def test_dry_run_for_a_gpu_cluster_works_on_a_machine_without_one(d3_cli, tiny_args):
    result = d3_cli("train", *[a for a in tiny_args if a != "lightning.accelerator=cpu"], "--gpus", "4", "--dry_run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "#   processes    4" in lines and "#   strategy     ddp" in lines
    assert any(line.startswith("#   accelerator  gpu") for line in lines)


def test_a_run_directory_is_a_checkpoint(d3_cli, tiny_args, tmp_path):
    run = tmp_path / "run"
    assert d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "2", "--val_check_interval", "1").exit_code == 0
    info = d3_cli("checkpoint", "info", run)
    assert info.exit_code == 0 and "lightning" in info.output, info.output
    listed = d3_cli("convert", tmp_path, "--recursive", "--to", "legacy", "--out", tmp_path / "out", "--dry-run")
    assert listed.exit_code == 0, listed.output
    assert "last.ckpt" in listed.output and "step=" in listed.output  # every checkpoint of the run, not one
    resumed = d3_cli("train", "--work_dir", run, "--resume_from", run, "--max_steps", "3")
    assert resumed.exit_code == 0 and "d3: finished at step 3" in resumed.output, resumed.output


@pytest.mark.parametrize("rank, expected", [(None, "True"), ("0", "True"), ("1", "False")])
def test_rank_is_read_from_the_environment_before_lightning_is_imported(rank, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "SLURM_PROCID")}
    if rank is not None:
        env["SLURM_PROCID"] = rank
    code = ("import sys\nfrom d3core.training.ranks import is_rank_zero\n"
            "print(is_rank_zero(), 'pytorch_lightning' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.split() == [expected, "False"], result.stderr


@pytest.mark.parametrize("variable", ["RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK", "SLURM_RANK"])
def test_the_rank_variables_are_those_lightning_reads(monkeypatch, variable):
    """d3 reads the rank before Lightning is imported: from the variables Lightning's own _get_rank reads, in its
    order (a variable Lightning ignores, or one it adds, makes this fail)."""
    from lightning_fabric.utilities.rank_zero import _get_rank

    from d3core.training.ranks import RANK_VARIABLES, environment_rank

    for key in (*RANK_VARIABLES, "SLURM_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert environment_rank() is None and _get_rank() is None
    monkeypatch.setenv(variable, "3")
    assert environment_rank() == _get_rank()
    for later in RANK_VARIABLES[1:]:  # the first one set wins, as in Lightning
        monkeypatch.setenv(later, "5")
    assert environment_rank() == _get_rank()
