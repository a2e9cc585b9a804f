"""Builds a training run from the config and the registries: ``plan_run`` (cheap, checks everything) then ``fit``.

Run directory (``--work_dir``, one for all ranks): ``config.yaml`` (resolved), ``plugins.txt`` (name==version of every
plugin used), ``checkpoints/`` (top-k on val_loss and ``last.ckpt``) and the loggers' folders.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from difflib import get_close_matches
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

import d3core
from d3core.architecture import wants_null_condition
from d3core.config import ConfigSources, assemble_config, parse_devices, peek_selection
from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager, get_plugin_manager

#: set by rank 0 before Lightning launches the other ranks, so they all use the same run directory
RUN_DIR_ENV = "D3_RUN_DIR"
DEFAULT_PRESET = "paper"
#: sections that a resumed run takes from its checkpoint (a conflicting user value is an error)
CHECKPOINT_OWNED = ("model", "graph", "noise", "tokens", "dataset", "arch")
#: Lightning accelerator and strategy names accepted without importing Lightning's registries
COMMON_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
COMMON_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed", "single_device")


@dataclass
class RunPlan:
    """Everything resolved before the Trainer is built."""

    config: DictConfig
    manager: D3PluginManager
    dataset: Any  # the dataset plugin object
    architecture: Any  # the architecture class
    run_dir: Path
    data_path: Path
    resume_checkpoint: Path | None = None

    @property
    def components(self) -> list[tuple[str, str]]:
        """(kind, name) of every registered component this run uses."""
        config = self.config
        used = [("datasets", config.dataset), ("architectures", config.arch)]
        used += [("loggers", name) for name in _logger_names(config)]
        used += [("callbacks", name) for name in config.callbacks if name in self.manager.registry("callbacks")]
        return used


def _logger_names(config: DictConfig) -> list[str]:
    names = list(config.loggers)
    if config.wandb.enabled and "wandb" not in [n.lower() for n in names]:
        names.append("wandb")
    return names


#: where Lightning reads a process's global rank before its strategy sets it (lightning_fabric's ``_get_rank``)
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_rank_zero() -> bool:
    """Whether this process is global rank 0: Lightning's ``rank_zero_only.rank`` once Lightning is imported, else
    the same environment variables Lightning reads (so a typo in a flag fails before the 3-second Lightning import)."""
    rank_zero = sys.modules.get("pytorch_lightning.utilities.rank_zero")
    if rank_zero is not None:
        return getattr(rank_zero.rank_zero_only, "rank", 0) == 0
    rank = next((os.environ[key] for key in _RANK_VARIABLES if os.environ.get(key) is not None), "0")
    return int(rank) == 0


def _selection(sources: ConfigSources, checkpoint_config: dict | None) -> dict[str, Any]:
    chosen = peek_selection(sources)
    if checkpoint_config:
        for key in ("dataset", "arch", "preset"):
            chosen[key] = chosen[key] or checkpoint_config.get(key)
    missing = [key for key in ("dataset", "arch") if not chosen[key]]
    if missing:
        raise D3UserError(f"no {missing[0]} chosen: pass --{missing[0]} NAME (see 'd3 plugins list --kind "
                          f"{'datasets' if missing[0] == 'dataset' else 'architectures'}')")
    return chosen


def _resume_source(resume_from: str | None, work_dir: str | None, manager: D3PluginManager):
    """``(lightning .ckpt path or None, checkpoint config or None)`` for ``--resume_from``.

    Any registered format is accepted: a non-Lightning checkpoint (an original D3 ``.pth`` or run directory, a
    plugin format) is converted to a full Lightning checkpoint in a temporary folder (removed at exit) -- loops at
    its step, optimizer moments re-indexed by parameter name, LambdaLR at the step, EMA, epoch -- which Lightning
    then restores as its own.
    """
    if not resume_from:
        return None, None
    if resume_from == "last":
        if not work_dir:
            raise D3UserError("--resume_from last needs --work_dir (the run directory to continue)")
        resume_from = str(Path(work_dir) / "checkpoints" / "last.ckpt")
    import atexit
    import shutil
    import tempfile

    from d3core.checkpoints import detect_format, load_bundle, save_bundle

    name, fmt = detect_format(resume_from, manager)
    if name == "lightning":  # a .ckpt, or a run directory's checkpoints/last.ckpt
        from d3core.builtin.checkpoint_lightning import LightningFormat

        checkpoint = LightningFormat.checkpoint_file(Path(resume_from))
        return checkpoint, fmt.load(checkpoint).config
    _, bundle = load_bundle(resume_from, manager, format=name)
    folder = Path(tempfile.mkdtemp(prefix="d3-resume-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    converted = save_bundle(bundle, "lightning", folder / "resume.ckpt", manager)
    return converted, bundle.config


def _check_resume_conflicts(config: DictConfig, checkpoint_config: dict) -> None:
    for key in CHECKPOINT_OWNED:
        mine, theirs = OmegaConf.select(config, key), checkpoint_config.get(key)
        mine = OmegaConf.to_container(mine) if OmegaConf.is_config(mine) else mine
        if isinstance(theirs, dict):
            for sub, value in theirs.items():
                if sub in mine and mine[sub] != value:
                    raise D3UserError(f"{key}.{sub}={mine[sub]!r} conflicts with the checkpoint being resumed "
                                      f"({value!r}); drop the flag, or start a new run without --resume_from")
        elif mine is not None and theirs is not None and str(mine).lower() != str(theirs).lower():
            raise D3UserError(f"{key}={mine!r} conflicts with the checkpoint being resumed ({theirs!r}); drop the "
                              "flag, or start a new run without --resume_from")


def _default_run_dir(config: DictConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.dataset}-{config.arch}-{stamp}"


def plan_run(sources: ConfigSources, *, resume_from: str | None = None, manager: D3PluginManager | None = None,
             check_data: bool = True, check_hardware: bool = True) -> RunPlan:
    """Resolve plugins, assemble and check the config, choose the run directory. Raises :class:`D3UserError`.

    ``check_hardware=False`` (a dry run prepared on a login node) does not require the accelerator to be present.
    """
    manager = manager or get_plugin_manager()
    shared_run_dir = None if is_rank_zero() else os.environ.get(RUN_DIR_ENV)  # set by rank 0 before the launch
    work_dir_flag = shared_run_dir or sources.flags.get("work_dir")
    resume_ckpt, checkpoint_config = _resume_source(resume_from, work_dir_flag, manager)
    chosen = _selection(sources, checkpoint_config)
    dataset_entry = manager.get("datasets", chosen["dataset"])
    arch_entry = manager.get("architectures", chosen["arch"])
    dataset = manager.dataset(dataset_entry)
    architecture = manager.architecture(arch_entry)
    preset_name = chosen["preset"] or DEFAULT_PRESET
    dataset_defaults = OmegaConf.to_container(OmegaConf.create(dict(dataset.default_config)))
    dataset_defaults.setdefault("model", {}).update(num_labels=len(dataset.label_names),
                                                    label_mode=dataset.label_mode)
    if not architecture.null_condition:  # no learned null condition: no label dropout unless asked for (an error)
        dataset_defaults.setdefault("training", {})["label_dropout"] = 0.0
    if checkpoint_config:  # checkpoints from before label dropout trained without it
        checkpoint_config.setdefault("training", {}).setdefault("label_dropout", 0.0)
    layered = ConfigSources(sources.config_path, dict(sources.flags), list(sources.overrides))
    layered.flags.update(dataset=dataset_entry.name, arch=arch_entry.name, preset=preset_name)
    model_preset = architecture.preset(preset_name)
    if checkpoint_config:  # the checkpoint's settings replace the defaults; its model sizes replace the preset
        dataset_defaults = OmegaConf.to_container(OmegaConf.merge(dataset_defaults, checkpoint_config))
        model_preset.update(checkpoint_config.get("model") or {})
    config = assemble_config(layered, dataset_defaults=dataset_defaults, model_defaults=architecture.defaults,
                             model_preset=model_preset)
    if checkpoint_config:
        _check_resume_conflicts(config, checkpoint_config)
    data_path = Path(config.data.path).expanduser() if config.data.path else dataset.default_path()
    if check_data:
        dataset.validate(data_path)
        file_labels = dataset.label_names_in(data_path)
        if len(file_labels) != config.model.num_labels:
            config.model.num_labels = len(file_labels)
    config.model.null_condition = wants_null_condition(config)  # the network follows training.label_dropout
    run_dir = Path(shared_run_dir or config.work_dir or _default_run_dir(config))
    config.work_dir = str(run_dir)
    if resume_ckpt is None and is_rank_zero() and run_dir.exists() and any(run_dir.iterdir()):
        raise D3UserError(f"run directory {run_dir} already exists; choose another --work_dir, or continue it with "
                          f"--work_dir {run_dir} --resume_from last")
    _check_batch(config)
    check_trainer_settings(config, manager, check_hardware=check_hardware)
    return RunPlan(config=config, manager=manager, dataset=dataset, architecture=architecture, run_dir=run_dir,
                   data_path=data_path, resume_checkpoint=resume_ckpt)


# -- devices, batch and precision ---------------------------------------------------------------------------------------
def resolve_precision(config: DictConfig) -> str:
    """``auto`` -> ``bf16-mixed`` on CUDA with bf16 support, else ``32-true``."""
    precision = str(config.lightning.precision)
    if precision != "auto":
        return precision
    import torch

    on_cuda = str(config.lightning.accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if on_cuda and torch.cuda.is_bf16_supported() else "32-true"


def world_size(config: DictConfig) -> int:
    """Processes taking part: devices x nodes (``auto`` devices: every GPU when training on GPU, else 1)."""
    devices = parse_devices(config.lightning.devices)
    if isinstance(devices, int):
        count = devices if devices > 0 else _visible_gpus()
    elif isinstance(devices, str):  # "auto"
        accelerator = str(config.lightning.accelerator)
        count = _visible_gpus() if accelerator in ("auto", "gpu", "cuda") else 1
    else:
        count = len(devices)
    return max(count, 1) * int(config.lightning.num_nodes)


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _check_batch(config: DictConfig) -> None:
    world, accum = world_size(config), int(config.training.accum)
    batch = int(config.training.batch_size)
    if batch % (world * accum):
        raise D3UserError(f"training.batch_size={batch} is the global batch and must divide by devices x nodes x "
                          f"accum = {world} x {accum}; choose e.g. training.batch_size={world * accum * max(1, batch // (world * accum))}")


def per_device_batch(config: DictConfig) -> int:
    return int(config.training.batch_size) // (world_size(config) * int(config.training.accum))


# -- building -----------------------------------------------------------------------------------------------------------
def build_network(plan: RunPlan):
    """The score network of the plan's architecture, sized by the config."""
    from d3core.checkpoints import build_network as network_of_config

    return network_of_config(plan.config, str(plan.config.arch), manager=plan.manager)


def count_parameters(network) -> int:
    return sum(p.numel() for p in network.parameters())


def plugin_versions(plan: RunPlan) -> dict[str, str]:
    """``{distribution: version}`` of d3core and of every plugin providing a component this run uses."""
    versions = {"d3core": d3core.__version__}
    for kind, name in plan.components:
        provider = plan.manager.get(kind, name).provider
        versions[provider.distribution] = provider.version or "built-in"
    return versions


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


def check_trainer_settings(config: DictConfig, manager: D3PluginManager, *, check_hardware: bool = True) -> None:
    """What Lightning would only reject once training starts: the accelerator and strategy are known (and, with
    ``check_hardware``, the accelerator is present on this machine), every logger and callback resolves. Raises
    :class:`D3UserError`."""
    accelerator = str(config.lightning.accelerator)
    _check_registered("accelerator", accelerator, "use auto, cpu, gpu (cuda), mps or tpu")
    _check_registered("strategy", str(config.lightning.strategy),
                      "use auto (DDP on several devices), ddp, ddp_spawn, fsdp or deepspeed")
    if check_hardware:
        _check_accelerator_present(accelerator)
    for name in _logger_names(config):
        manager.get("loggers", name).load()
    for name in config.callbacks:
        callback_factory(manager, str(name))


def _check_registered(kind: str, value: str, advice: str) -> None:
    """``value`` of ``lightning.<kind>`` (accelerator or strategy) is a common name, or one in Lightning's registry
    of that kind (a slow import, only for uncommon names)."""
    common = COMMON_ACCELERATORS if kind == "accelerator" else COMMON_STRATEGIES
    if value in common:
        return
    if kind == "accelerator":
        from pytorch_lightning.accelerators import AcceleratorRegistry

        registered = AcceleratorRegistry.available_accelerators()
    else:
        from pytorch_lightning.strategies import StrategyRegistry

        registered = StrategyRegistry.available_strategies()
    known = [*common, *registered]
    if value not in known:
        close = get_close_matches(value, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise D3UserError(f"lightning.{kind}={value!r} is not a Lightning {kind}; {hint}{advice}")


def _check_accelerator_present(accelerator: str) -> None:
    import torch

    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise D3UserError(f"lightning.accelerator={accelerator} (--gpus/--accelerator) but no CUDA GPU is visible "
                          "here; use --accelerator cpu, or run on a GPU node with a CUDA build of torch")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise D3UserError("lightning.accelerator=mps but Apple MPS is not available here; use --accelerator cpu")
    if accelerator == "tpu" and find_spec("torch_xla") is None:
        raise D3UserError("lightning.accelerator=tpu needs torch_xla, which is not installed; use --accelerator cpu "
                          "or gpu, or pip install torch_xla")


def build_callbacks(plan: RunPlan) -> list:
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


def build_loggers(plan: RunPlan) -> list:
    return [plan.manager.get("loggers", name).load()(plan.run_dir, plan.config) for name in _logger_names(plan.config)]


def trainer_kwargs(plan: RunPlan, *, fast_dev_run: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``pytorch_lightning.Trainer`` for a plan: devices, strategy (DDP for more than one
    device), precision, steps, validation interval, accumulation, clipping, callbacks and loggers from the registries,
    atomic checkpoint IO; then every plugin's ``configure_trainer`` hook may edit them."""
    from d3core.training.atomic_io import AtomicCheckpointIO

    config = plan.config
    world = world_size(config)
    strategy = str(config.lightning.strategy)
    if strategy == "auto" and world > 1:
        strategy = "ddp"
    interval = config.training.val_check_interval
    kwargs: dict[str, Any] = dict(
        accelerator=str(config.lightning.accelerator), devices=config.lightning.devices,
        num_nodes=int(config.lightning.num_nodes), strategy=strategy, precision=resolve_precision(config),
        max_steps=int(config.training.max_steps), max_epochs=int(config.training.max_epochs),
        val_check_interval=interval, check_val_every_n_epoch=None if isinstance(interval, int) else 1,
        limit_val_batches=config.training.limit_val_batches,
        accumulate_grad_batches=int(config.training.accum),
        gradient_clip_val=float(config.optim.grad_clip) or None, gradient_clip_algorithm="norm",
        log_every_n_steps=int(config.lightning.logging.log_every_n_steps),
        sync_batchnorm=bool(config.lightning.performance.sync_batchnorm),
        deterministic=bool(config.lightning.deterministic), default_root_dir=str(plan.run_dir),
        use_distributed_sampler=False, enable_model_summary=False, fast_dev_run=fast_dev_run,
        plugins=[AtomicCheckpointIO()],
    )
    if not fast_dev_run:
        kwargs["callbacks"] = build_callbacks(plan)
        kwargs["logger"] = build_loggers(plan) or False
    else:
        kwargs["callbacks"] = [c for c in build_callbacks(plan) if not type(c).__name__ == "ModelCheckpoint"]
    plan.manager.call_each("configure_trainer", trainer_kwargs=kwargs, config=config)
    return kwargs


def write_run_files(plan: RunPlan) -> None:
    """``config.yaml`` and ``plugins.txt`` in the run directory (rank 0 only, atomically)."""
    from d3core.atomic import atomic_write_text

    if not is_rank_zero():
        return
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan.run_dir / "config.yaml", OmegaConf.to_yaml(plan.config))
    lines = [f"{name}=={version}" for name, version in sorted(plugin_versions(plan).items())]
    atomic_write_text(plan.run_dir / "plugins.txt", "\n".join(lines) + "\n")


def _finish_loggers(trainer) -> None:
    """Close loggers that keep a process-wide run open (wandb), so a next run in this process starts afresh."""
    for logger in trainer.loggers:
        experiment = getattr(logger, "_experiment", None)
        if callable(getattr(experiment, "finish", None)):
            experiment.finish()


def _raised_in_lightning(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` is Lightning's own code (a refused setting, not a bug elsewhere)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return any(part in filename for part in ("pytorch_lightning", "lightning_fabric", "lightning_utilities"))


def build_trainer(plan: RunPlan, *, fast_dev_run: bool = False):
    """The ``pytorch_lightning.Trainer`` of a plan, built before d3 writes anything to the run directory.

    Settings Lightning refuses (e.g. more devices than the machine has, a strategy whose library is missing) become
    one :class:`D3UserError` naming the ``lightning.*`` keys to fix; a run directory that a logger created while the
    Trainer was refused is removed again. Errors raised outside Lightning (a plugin's bug) propagate unchanged.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    existed = plan.run_dir.exists()
    try:
        return pl.Trainer(**trainer_kwargs(plan, fast_dev_run=fast_dev_run))
    except Exception as exc:
        if not existed:  # e.g. MLflow's store, made when its logger was built
            shutil.rmtree(plan.run_dir, ignore_errors=True)
        refused = isinstance(exc, (MisconfigurationException, ValueError, TypeError, ImportError))
        if not (refused and _raised_in_lightning(exc)):
            raise
        lightning = plan.config.lightning
        settings = ", ".join(f"{key}={lightning[key]!r}"
                             for key in ("accelerator", "devices", "num_nodes", "strategy", "precision"))
        reason = " ".join(str(exc).split()).rstrip(".")
        raise D3UserError(f"Lightning refused the trainer settings ({settings}): {reason}; fix the lightning.* keys "
                          "(or --accelerator/--devices/--strategy/--precision)") from exc


def fit(plan: RunPlan, *, fast_dev_run: bool = False, announce: Callable[[], None] | None = None) -> dict[str, Any]:
    """Train (``announce()`` is called once the Trainer accepted the settings). Returns a summary: run directory,
    last checkpoint, final step."""
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from d3core.training.datamodule import D3DataModule
    from d3core.training.module import D3LightningModule

    pl.seed_everything(int(plan.config.seed), workers=True, verbose=False)
    trainer = build_trainer(plan, fast_dev_run=fast_dev_run)
    if announce is not None:
        announce()
    if not fast_dev_run:
        write_run_files(plan)
    module = D3LightningModule(plan.config, build_network(plan), versions=plugin_versions(plan))
    data = D3DataModule(plan.dataset, str(plan.data_path), per_device_batch=per_device_batch(plan.config),
                        eval_batch=max(1, int(plan.config.eval.batch_size) // world_size(plan.config)),
                        seed=int(plan.config.seed), num_workers=int(plan.config.data.num_workers))
    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(plan.run_dir.resolve())  # inherited by the ranks Lightning launches
    interrupted = False
    try:
        trainer.fit(module, datamodule=data, weights_only=True,
                    ckpt_path=str(plan.resume_checkpoint) if plan.resume_checkpoint else None)
    except SIGTERMException:  # CheckpointOnSigterm saved last.ckpt at the end of the last optimizer step
        interrupted = True
    finally:
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
    last = plan.run_dir / "checkpoints" / "last.ckpt"
    if not fast_dev_run and not interrupted:
        trainer.save_checkpoint(last, weights_only=False)  # always rewritten at the final global_step
    _finish_loggers(trainer)
    return {"run_dir": plan.run_dir, "last_checkpoint": last if not fast_dev_run else None,
            "global_step": trainer.global_step, "interrupted": interrupted,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
