"""The callbacks and loggers of a run, from the registries (and ``--callback module:Class``)."""
from __future__ import annotations

from importlib import import_module
from typing import Any, Callable

from omegaconf import DictConfig

from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager

__all__ = ["build_callbacks", "build_loggers", "callback_factory", "logger_names"]


def logger_names(config: DictConfig) -> list[str]:
    names = list(config.loggers)
    if config.wandb.enabled and "wandb" not in [n.lower() for n in names]:
        names.append("wandb")
    return names


def callback_factory(manager: D3PluginManager, name: str) -> Callable[[DictConfig], Any]:
    """``make(config) -> Callback`` for a ``callbacks`` entry: a registered name (``dist:name`` too) or an importable
    ``module:Class`` (a ``pytorch_lightning.Callback`` subclass built without arguments). Raises D3UserError."""
    dist = name.rpartition(":")[0]
    if ":" not in name or manager.is_plugin_distribution(dist):
        return manager.get("callbacks", name).load()
    module_name, _, attr = name.partition(":")
    try:
        cls = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise D3UserError(f"--callback {name}: cannot import {attr!r} from {module_name!r} ({exc}); give a "
                          "registered callback name or an importable module:Class") from exc
    from pytorch_lightning import Callback

    if not (isinstance(cls, type) and issubclass(cls, Callback)):
        raise D3UserError(f"--callback {name}: {cls!r} is not a pytorch_lightning.Callback subclass; give a "
                          "registered callback name or a module:Class of a Lightning callback")
    return lambda config: cls()


def build_callbacks(plan) -> list:
    """ModelCheckpoint (top-k on the monitored metric, ``last.ckpt``), the progress bar, pre-emption checkpoints, the
    SIGTERM checkpoint, early stopping and the registered/imported callbacks of ``plan`` (a RunPlan)."""
    from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar

    from d3core.training.preemption import CheckpointOnSigterm

    config, checkpoints = plan.config, plan.run_dir / "checkpoints"
    monitor = str(config.lightning.checkpoint.monitor)
    every = int(config.lightning.checkpoint.every_n_train_steps)
    callbacks = [
        ModelCheckpoint(dirpath=str(checkpoints), filename="step={step}-val_loss={val_loss:.4f}",
                        auto_insert_metric_name=False, monitor=monitor, mode="min", enable_version_counter=False,
                        save_top_k=int(config.lightning.checkpoint.save_top_k), save_last=not every),
        TQDMProgressBar(refresh_rate=max(1, int(config.lightning.logging.log_every_n_steps) // 5)),
    ]
    if every:  # pre-emption: last.ckpt every N optimizer steps
        callbacks.append(ModelCheckpoint(dirpath=str(checkpoints), save_top_k=0, save_last=True,
                                         every_n_train_steps=every, enable_version_counter=False))
    callbacks.append(CheckpointOnSigterm(str(checkpoints / "last.ckpt")))
    if int(config.training.early_stopping_patience):
        callbacks.append(plan.manager.get("callbacks", "early_stopping").load()(config))
    callbacks += [callback_factory(plan.manager, str(name))(config) for name in config.callbacks]
    return callbacks


def build_loggers(plan) -> list:
    """The registered loggers of ``plan`` (a RunPlan), each built as ``factory(run_dir, config)``."""
    return [plan.manager.get("loggers", name).load()(plan.run_dir, plan.config) for name in logger_names(plan.config)]
