"""Built-in Lightning callbacks: ``early_stopping``, ``lr_monitor`` and ``sp_mse``.

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
    register("sp_mse", "d3core.evaluation.sp_mse:make_sp_mse",
             description="sample a fixed validation subset with the EMA weights every N validations; log sp_mse "
                         "(needs an oracle: d3 oracle train)")


def make_early_stopping(config: Any = None):
    from pytorch_lightning.callbacks import EarlyStopping

    from d3core.config import select_value

    return EarlyStopping(monitor=select_value(config, "lightning.checkpoint.monitor", "val_loss"), mode="min",
                         patience=int(select_value(config, "training.early_stopping_patience", 10)))


def make_lr_monitor(config: Any = None):
    from pytorch_lightning.callbacks import LearningRateMonitor

    return LearningRateMonitor(logging_interval="step")
