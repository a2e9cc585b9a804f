"""The built-in logger and callback factories build real Lightning objects that write into the run directory."""
from __future__ import annotations

import pytest


def _log_and_close(logger):
    logger.log_hyperparams({"optim.lr": 3e-4})
    logger.log_metrics({"train_loss": 1.5}, step=1)
    logger.log_metrics({"train_loss": 1.25}, step=2)
    logger.save()
    logger.finalize("success")


def test_tensorboard_logger_writes_event_files(bare_pm, tmp_path):
    _log_and_close(bare_pm.get("loggers", "tb").load()(tmp_path, {}))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_csv_logger_writes_metrics(bare_pm, tmp_path):
    _log_and_close(bare_pm.get("loggers", "csv").load()(tmp_path, {}))
    text = (tmp_path / "csv" / "metrics.csv").read_text()
    assert "train_loss" in text and "1.25" in text


def test_wandb_logger_works_offline(bare_pm, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = bare_pm.get("loggers", "wandb").load()(tmp_path, {"wandb": {"project": "d3-test"}})
    _log_and_close(logger)
    logger.experiment.finish()
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_mlflow_logger_uses_a_sqlite_store_in_the_run(bare_pm, tmp_path):
    pytest.importorskip("mlflow")
    _log_and_close(bare_pm.get("loggers", "mlflow").load()(tmp_path, {}))
    assert (tmp_path / "mlflow.db").stat().st_size > 0


def test_callback_factories(bare_pm):
    from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor

    stopper = bare_pm.get("callbacks", "early_stopping").load()({"training": {"early_stopping_patience": 3}})
    assert isinstance(stopper, EarlyStopping) and stopper.patience == 3 and stopper.monitor == "val_loss"
    assert isinstance(bare_pm.get("callbacks", "lr_monitor").load()({}), LearningRateMonitor)
