"""Built-in Lightning callbacks: ``early_stopping`` and ``lr_monitor``.

Each factory is called as ``factory(config)`` with the resolved run configuration.
"""
from __future__ import annotations

from typing import Any

from d3core import hookimpl


@hookimpl
def register_callbacks(register):
    register("early_stopping", "d3core.builtin.callbacks:make_early_stopping",
             description="stop when val_loss has not improved for training.early_stopping_patience validations")
    register("lr_monitor", "d3core.builtin.callbacks:make_lr_monitor",
             description="log the learning rate of every optimizer step")


def _select(config: Any, key: str, default: Any) -> Any:
    if config is None:
        return default
    try:
        from omegaconf import OmegaConf

        value = OmegaConf.select(OmegaConf.create(config) if isinstance(config, dict) else config, key)
    except Exception:
        value = None
    return default if value is None else value


def make_early_stopping(config: Any = None):
    from pytorch_lightning.callbacks import EarlyStopping

    return EarlyStopping(monitor=_select(config, "lightning.checkpoint.monitor", "val_loss"), mode="min",
                         patience=int(_select(config, "training.early_stopping_patience", 10)))


def make_lr_monitor(config: Any = None):
    from pytorch_lightning.callbacks import LearningRateMonitor

    return LearningRateMonitor(logging_interval="step")
