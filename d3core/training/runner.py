"""``fit``: train a :class:`~d3core.training.plan.RunPlan` with Lightning (what ``d3 train`` runs).

Run directory (``--work_dir``, one for all ranks, held by one run at a time: :mod:`~d3core.training.run_lock`):
``config.yaml`` (resolved), ``plugins.txt`` (name==version of every plugin used), ``checkpoints/`` (top-k on val_loss
and ``last.ckpt``) and the loggers' folders.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from omegaconf import OmegaConf

from d3core.training.lost_rank import lost_process_error, stop_launched_ranks
from d3core.training.plan import RunPlan, build_run_network, plugin_versions
from d3core.training.ranks import RUN_DIR_ENV, is_rank_zero
from d3core.training.run_lock import RunLock
from d3core.training.trainer import build_trainer

__all__ = ["fit", "write_run_files"]


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


def fit(plan: RunPlan, *, fast_dev_run: bool = False, announce: Callable[[], None] | None = None) -> dict[str, Any]:
    """Train (``announce()`` is called once the Trainer accepted the settings). Returns a summary: run directory,
    last checkpoint, final step, and the ``(path, step)`` of saves that found no room (``unsaved``)."""
    import pytorch_lightning as pl

    pl.seed_everything(plan.settings.seed, workers=True, verbose=False)
    trainer = build_trainer(plan, fast_dev_run=fast_dev_run)
    lock = RunLock(plan.run_dir)
    if not fast_dev_run and is_rank_zero():
        lock.acquire()  # one run per directory; released when this function returns or raises
    try:
        return _fit(plan, trainer, fast_dev_run=fast_dev_run, announce=announce)
    finally:
        lock.release()


def _fit(plan: RunPlan, trainer, *, fast_dev_run: bool, announce: Callable[[], None] | None) -> dict[str, Any]:
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from d3core.training.datamodule import D3DataModule
    from d3core.training.module import D3LightningModule

    if announce is not None:
        announce()
    if not fast_dev_run:
        write_run_files(plan)
    settings = plan.settings
    module = D3LightningModule(plan.config, build_run_network(plan), versions=plugin_versions(plan),
                               compile_network=settings.compile.enabled)
    data = D3DataModule(plan.dataset, str(plan.data_path), per_device_batch=settings.per_device_batch,
                        eval_batch=settings.per_device_eval_batch, seed=settings.seed,
                        num_workers=int(plan.config.data.num_workers))
    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(plan.run_dir.resolve())  # inherited by the ranks Lightning launches
    interrupted = False
    try:
        trainer.fit(module, datamodule=data, weights_only=True,
                    ckpt_path=str(plan.resume_checkpoint) if plan.resume_checkpoint else None)
    except SIGTERMException:  # CheckpointOnSigterm saved last.ckpt at the end of the last optimizer step
        interrupted = True
    except Exception as exc:  # a rank that died: one line, and no launched rank left waiting for it
        lost = lost_process_error(exc, processes=plan.settings.world_size, step=trainer.global_step,
                                  run_dir=plan.run_dir)
        if lost is None:
            raise
        stop_launched_ranks(trainer)
        raise lost from exc
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
            "unsaved": list(getattr(trainer.strategy.checkpoint_io, "unsaved", [])),  # saves that found no room
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
