"""Built-in Lightning callbacks: ``early_stopping``, ``lr_monitor`` and ``sp_mse``.

Each factory is called as ``factory(config)`` with the resolved run configuration.

Early stopping is one callback however it is asked for: ``--early_stopping_patience N`` (``training.
early_stopping_patience``; 0 = off) turns it on with patience N, ``--callback early_stopping`` turns it on with that
patience, or :data:`DEFAULT_PATIENCE` validations while the key is 0; both together are still one callback.
"""
from __future__ import annotations

from typing import Any

from d3core.api import hookimpl

#: patience of ``--callback early_stopping`` when ``training.early_stopping_patience`` is 0 (off)
DEFAULT_PATIENCE = 10


@hookimpl
def register_callbacks(register):
    register("early_stopping", "d3core.builtin.callbacks:make_early_stopping",
             description="stop when val_loss has not improved for training.early_stopping_patience validations "
                         f"({DEFAULT_PATIENCE} while that is 0); --early_stopping_patience N turns it on too")
    register("lr_monitor", "d3core.builtin.callbacks:make_lr_monitor",
             description="log the learning rate of every optimizer step")
    register("sp_mse", "d3core.evaluation.sp_mse:make_sp_mse",
             description="sample a fixed validation subset with the EMA weights every N validations; log sp_mse "
                         "(needs an oracle: d3 oracle train)")


def early_stopping_patience(config: Any = None) -> int:
    """Validations without improvement before stopping: ``training.early_stopping_patience``, or
    :data:`DEFAULT_PATIENCE` when that is 0 (early stopping asked for by name, without a patience)."""
    from d3core.config import select_value

    return int(select_value(config, "training.early_stopping_patience", 0)) or DEFAULT_PATIENCE


def make_early_stopping(config: Any = None):
    """Lightning's ``EarlyStopping`` on ``lightning.checkpoint.monitor`` (lower is better), with
    :func:`early_stopping_patience`."""
    from pytorch_lightning.callbacks import EarlyStopping

    from d3core.config import select_value

    return EarlyStopping(monitor=select_value(config, "lightning.checkpoint.monitor", "val_loss"), mode="min",
                         patience=early_stopping_patience(config))


def make_lr_monitor(config: Any = None):
    from pytorch_lightning.callbacks import LearningRateMonitor

    return LearningRateMonitor(logging_interval="step")
