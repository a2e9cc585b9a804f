"""Every built-in logger, in a short real training run, writes its files into the run directory."""
from __future__ import annotations

import pytest

LOGGER_FILES = {
    "tensorboard": lambda run: list((run / "tensorboard").glob("events.out.tfevents.*")),
    "csv": lambda run: [run / "csv" / "metrics.csv"] if "train_loss" in (run / "csv" / "metrics.csv").read_text() else [],
    "wandb": lambda run: list((run / "wandb").glob("offline-run-*/run-*.wandb")),
    "mlflow": lambda run: [run / "mlflow.db"] if (run / "mlflow.db").stat().st_size else [],
}


@pytest.mark.parametrize("logger", sorted(LOGGER_FILES))
def test_logger_writes_its_files(logger, d3_cli, tiny_args, tmp_path, monkeypatch):
    if logger in ("wandb", "mlflow"):
        pytest.importorskip(logger)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "3", "--logger", logger,
                    "lightning.logging.log_every_n_steps=1")
    assert result.exit_code == 0, result.output
    assert LOGGER_FILES[logger](run), f"{logger} wrote nothing under {run}"


def test_wandb_enabled_in_config_adds_the_logger(d3_cli, tiny_args, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "2", "wandb.enabled=true",
                    "wandb.project=d3-tests")
    assert result.exit_code == 0, result.output
    assert list((run / "tensorboard").glob("events.*")) and list((run / "wandb").glob("offline-run-*"))
