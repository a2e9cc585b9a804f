"""The callbacks and loggers of a run, from the registries (and ``--callback module:Class``).

Each component is built once however it was asked for: ``training.early_stopping_patience > 0`` and
``--callback early_stopping`` are the same early stopping; a name given twice (or by two spellings of it) is one
component. A factory that raises is one :class:`D3UserError` naming the component and its plugin.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping

from omegaconf import DictConfig, ListConfig, OmegaConf

from d3core.errors import D3UserError, one_line
from d3core.module_attr import resolve_module_attr
from d3core.plugins import D3PluginManager

__all__ = ["EARLY_STOPPING", "build_callbacks", "build_loggers", "callback_factory", "callback_names",
           "check_callbacks_not_from_files", "logger_names", "typed_callbacks"]

#: the registered callback that ``training.early_stopping_patience > 0`` turns on
EARLY_STOPPING = "early_stopping"


def _unique(manager: D3PluginManager, kind: str, names: list[str]) -> list[str]:
    """``names`` without repeats: registered names compared as the registry resolves them (``tb`` = ``tensorboard``,
    ``Early-Stopping`` = ``early_stopping``), other strings as written; the first spelling is kept."""
    seen, unique = set(), []
    for name in names:
        key = _registered_key(manager, kind, name) or name
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def _registered_key(manager: D3PluginManager, kind: str, name: str) -> tuple[str, str] | None:
    """``(provider, name)`` of the registry entry ``name`` resolves to, or None for a ``module:Class``."""
    dist = name.rpartition(":")[0]
    if ":" in name and not manager.is_plugin_distribution(dist):
        return None
    if name not in manager.registry(kind):
        return None
    entry = manager.get(kind, name)
    return entry.provider.distribution, entry.name


def logger_names(config: DictConfig, manager: D3PluginManager | None = None) -> list[str]:
    """The run's loggers: ``loggers`` plus ``wandb`` when ``wandb.enabled``, each once."""
    names = [str(n) for n in config.loggers]
    if config.wandb.enabled and "wandb" not in [n.lower() for n in names]:
        names.append("wandb")
    return _unique(manager, "loggers", names) if manager is not None else list(dict.fromkeys(names))


def callback_names(config: DictConfig, manager: D3PluginManager) -> list[str]:
    """The run's own callbacks: ``callbacks`` plus ``early_stopping`` when ``training.early_stopping_patience > 0``,
    each once (so the patience flag and ``--callback early_stopping`` together are one early stopping)."""
    names = [str(n) for n in config.callbacks]
    if int(config.training.early_stopping_patience):
        names.append(EARLY_STOPPING)
    return _unique(manager, "callbacks", names)


def typed_callbacks(flags: Mapping[str, Any], overrides: Iterable[str]) -> set[str]:
    """The callback specs the user typed on the command line: ``--callback`` values and the items of a trailing
    ``callbacks=[...]`` override (both spellings of the same list)."""
    typed = {str(name) for name in flags.get("callbacks") or ()}
    for item in overrides:
        key, _, _ = item.partition("=")
        if key.strip() == "callbacks":
            value = OmegaConf.from_dotlist([item]).get("callbacks")
            typed.update(str(name) for name in (value if isinstance(value, (list, ListConfig)) else [value]))
    return typed


def check_callbacks_not_from_files(config: DictConfig, manager: D3PluginManager, typed: set[str],
                                   origin: Callable[[str], str]) -> None:
    """Refuse a ``module:Class`` callback that a file put in the config (a checkpoint being resumed, a
    ``--config_path`` YAML) rather than the user on the command line: a file's settings are data, and only names
    registered by installed plugins, or specs the user typed, may import code. ``origin(name)`` says which file
    named it. Raises :class:`D3UserError`."""
    for name in callback_names(config, manager):
        if _registered_key(manager, "callbacks", name) is None and name not in typed:
            raise D3UserError(f"{origin(name)} names the callback {name!r}, which no installed plugin registers; "
                              "d3 imports no code a file names: if you trust it, give it on the command line with "
                              f"--callback {name}, else drop it with callbacks=[]")


def callback_factory(manager: D3PluginManager, name: str) -> Callable[[DictConfig], Any]:
    """``make(config) -> Callback`` for a ``callbacks`` entry: a registered name (``dist:name`` too) or an importable
    ``module:Class`` (a ``pytorch_lightning.Callback`` subclass built without arguments; the module is looked for
    in the current directory too). Raises D3UserError."""
    dist = name.rpartition(":")[0]
    if ":" not in name or manager.is_plugin_distribution(dist):
        return manager.get("callbacks", name).load()
    module_name, _, attr = name.partition(":")
    try:
        cls = resolve_module_attr(name, working_directory=True)
    except (ImportError, AttributeError, ValueError) as exc:
        raise D3UserError(f"--callback {name}: cannot import {attr!r} from {module_name!r} ({exc}; looked in the "
                          f"installed packages and in {os.getcwd()}); give a registered callback name or an "
                          "importable module:Class") from exc
    from pytorch_lightning import Callback

    if not (isinstance(cls, type) and issubclass(cls, Callback)):
        raise D3UserError(f"--callback {name}: {cls!r} is not a pytorch_lightning.Callback subclass; give a "
                          "registered callback name or a module:Class of a Lightning callback")
    return lambda config: cls()


def _who(manager: D3PluginManager, kind: str, name: str) -> tuple[str, str]:
    """``(how messages name the component, what to do when its factory fails)``."""
    if _registered_key(manager, kind, name) is None:
        return f"callback {name}", "fix the class (it is built without arguments)"
    entry = manager.get(kind, name)
    if entry.provider.builtin:
        return entry.label, "check its settings (docs/configuration.md, loggers and callbacks)"
    return entry.label, f"check its settings, fix the plugin, or 'pip uninstall {entry.provider.distribution}'"


def _built(manager: D3PluginManager, kind: str, name: str, make: Callable[[], Any]) -> Any:
    """``make()``; any exception but a D3UserError becomes one naming the component and its provider."""
    try:
        return make()
    except D3UserError:
        raise
    except Exception as exc:
        label, advice = _who(manager, kind, name)
        raise D3UserError(f"{label} failed to start: {one_line(exc)}; {advice} (--traceback shows where)") from exc


def _check_one_state_per_key(callbacks: list, names: dict[int, str]) -> None:
    """Lightning keeps one checkpoint state per ``state_key``: two stateful callbacks sharing one are refused here,
    naming both, rather than by Lightning's traceback."""
    from pytorch_lightning.utilities.model_helpers import is_overridden

    owners: dict[str, str] = {}
    for callback in callbacks:
        if not is_overridden("state_dict", instance=callback):
            continue
        key, name = callback.state_key, names.get(id(callback), type(callback).__name__)
        if key in owners:
            raise D3UserError(f"callbacks {owners[key]} and {name} are two {type(callback).__name__}s with the same "
                              "checkpoint state; keep one of them (early stopping: --early_stopping_patience N or "
                              "--callback early_stopping, once)")
        owners[key] = name


def build_callbacks(plan) -> list:
    """ModelCheckpoint (top-k on the monitored metric, ``last.ckpt``), the progress bar, pre-emption checkpoints, the
    SIGTERM checkpoint, the divergence guard and the run's own callbacks (:func:`callback_names`) of ``plan`` (a
    RunPlan)."""
    from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar

    from d3core.training.divergence import DivergenceGuard
    from d3core.training.preemption import CheckpointOnSigterm

    config, checkpoints, manager = plan.config, plan.run_dir / "checkpoints", plan.manager
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
    callbacks.append(DivergenceGuard(checkpoints, log_every=int(config.lightning.logging.log_every_n_steps),
                                     every=every))  # a NaN/inf step stops training before anything saves it
    names: dict[int, str] = {}
    for name in callback_names(config, manager):
        factory = callback_factory(manager, name)
        callback = _built(manager, "callbacks", name, lambda: factory(config))
        names[id(callback)] = repr(name)
        callbacks.append(callback)
    _check_one_state_per_key(callbacks, names)
    return callbacks


def build_loggers(plan) -> list:
    """The registered loggers of ``plan`` (a RunPlan), each built as ``factory(run_dir, config)``."""
    loggers = []
    for name in logger_names(plan.config, plan.manager):
        factory = plan.manager.get("loggers", name).load()
        loggers.append(_built(plan.manager, "loggers", name, lambda: factory(plan.run_dir, plan.config)))
    return loggers
