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


def test_logger_settings_reach_the_loggers(d3_cli, tiny_args, tmp_path, monkeypatch):
    """TensorBoard's folder name, MLflow's tracking URI and experiment, W&B's project/entity/tags, as typed."""
    pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    import mlflow

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    store = tmp_path / "elsewhere" / "tracking.db"
    store.parent.mkdir()
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "2", "--logger", "tensorboard",
                    "--logger", "mlflow", "--logger", "wandb", "lightning.logging.log_every_n_steps=1",
                    "tensorboard.name=tb-logs", f"mlflow.tracking_uri=sqlite:///{store}", "mlflow.experiment=enhancers",
                    "wandb.project=lab-project", "wandb.entity=my-lab", "wandb.tags=[deepstarr,baseline]")
    assert result.exit_code == 0, result.output
    assert list((run / "tb-logs").glob("events.out.tfevents.*")) and not (run / "tensorboard").exists()
    assert not (run / "mlflow.db").exists()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("enhancers")
    (mlflow_run,) = client.search_runs([experiment.experiment_id])
    assert mlflow_run.info.run_name == "run" and "train_loss" in mlflow_run.data.metrics
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb"))


def test_wandb_settings_and_offline_without_a_login(tmp_path):
    pytest.importorskip("wandb")
    from d3core.builtin.loggers import make_wandb_logger, wandb_offline

    config = {"wandb": {"project": "lab-project", "entity": "my-lab", "tags": ["deepstarr", "baseline"],
                        "offline": True}}
    logger = make_wandb_logger(tmp_path / "run", config)
    assert logger._wandb_init["project"] == "lab-project" and logger._wandb_init["entity"] == "my-lab"
    assert logger._wandb_init["tags"] == ["deepstarr", "baseline"] and logger._wandb_init["name"] == "run"

    home = tmp_path / "home"
    home.mkdir()
    offline, why = wandb_offline({}, env={"HOME": str(home)})
    assert offline and "no W&B login on this machine" in why
    assert wandb_offline({}, env={"HOME": str(home), "WANDB_API_KEY": "k" * 40}) == (False, None)
    assert wandb_offline({}, env={"HOME": str(home), "WANDB_MODE": "offline"}) == (False, None)  # W&B reads it
    (home / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    assert wandb_offline({}, env={"HOME": str(home)}) == (False, None)  # what 'wandb login' writes
    assert wandb_offline({"wandb": {"offline": False}}, env={"HOME": str(tmp_path)}) == (False, None)


def test_mlflow_file_store_as_in_the_integration_example(tiny_args, tmp_path):
    """``mlflow.tracking_uri=file:./ml-runs``, typed as a user types it, in the directory the URI is relative to."""
    pytest.importorskip("mlflow")
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("D3_", "MLFLOW_"))}
    result = subprocess.run([str(Path(sys.executable).with_name("d3")), "train", *tiny_args, "--work_dir", "run",
                             "--max_steps", "2", "--logger", "mlflow", "mlflow.tracking_uri=file:./ml-runs",
                             "mlflow.experiment=my-experiment", "lightning.logging.log_every_n_steps=1"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "d3: note: mlflow.tracking_uri=file:./ml-runs is MLflow's file store" in result.stderr
    names = [p.read_text() for p in (tmp_path / "ml-runs").glob("*/meta.yaml")]
    assert any("name: my-experiment" in text for text in names), names
    assert list((tmp_path / "ml-runs").glob("*/*/metrics/train_loss"))
