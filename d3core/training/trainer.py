"""The Lightning ``Trainer`` of a plan: its keyword arguments (with every plugin's ``configure_trainer``), and the
translation of the settings Lightning refuses into one :class:`D3UserError`."""
from __future__ import annotations

import shutil
from typing import Any

from d3core.errors import D3UserError, one_line
from d3core.training.components import build_callbacks, build_loggers
from d3core.training.plan import RunPlan
from d3core.training.run_settings import RunSettings

__all__ = ["build_trainer", "strategy_argument", "trainer_kwargs"]


def strategy_argument(config, settings: RunSettings) -> Any:
    """The Trainer's ``strategy``: the resolved name, or, with ``lightning.ddp_timeout_s``, that registered strategy
    built with ``timeout=timedelta(seconds=...)`` (the process-group timeout of NCCL/gloo collectives: how long a
    rank waits for the others, e.g. while rank 0 writes a large checkpoint). Strategies without a timeout (one
    device) get the name."""
    name = settings.strategy.value
    seconds = config.lightning.get("ddp_timeout_s")
    if seconds is None:
        return name
    import inspect
    from datetime import timedelta

    from pytorch_lightning.strategies import StrategyRegistry

    if name not in StrategyRegistry:
        return name
    entry = StrategyRegistry[name]
    if "timeout" not in inspect.signature(entry["strategy"].__init__).parameters:
        return name
    return entry["strategy"](**{**entry["init_params"], "timeout": timedelta(seconds=float(seconds))})


def trainer_kwargs(plan: RunPlan, *, fast_dev_run: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``pytorch_lightning.Trainer`` for a plan: devices, strategy (DDP for more than one
    device), precision, steps, validation interval, accumulation, clipping, callbacks and loggers from the registries,
    atomic checkpoint IO; then every plugin's ``configure_trainer`` hook may edit them."""
    from d3core.training.atomic_io import AtomicCheckpointIO

    config, settings = plan.config, plan.settings
    interval = config.training.val_check_interval
    kwargs: dict[str, Any] = dict(
        accelerator=settings.requested_accelerator, devices=settings.devices, num_nodes=settings.num_nodes,
        strategy=strategy_argument(config, settings), precision=settings.precision.value,
        max_steps=int(config.training.max_steps), max_epochs=int(config.training.max_epochs),
        val_check_interval=interval, check_val_every_n_epoch=None if isinstance(interval, int) else 1,
        limit_val_batches=config.training.limit_val_batches,
        accumulate_grad_batches=int(config.training.accum),
        gradient_clip_val=float(config.optim.grad_clip) or None, gradient_clip_algorithm="norm",
        log_every_n_steps=int(config.lightning.logging.log_every_n_steps),
        sync_batchnorm=bool(config.lightning.performance.sync_batchnorm),
        deterministic=bool(config.lightning.deterministic), default_root_dir=str(plan.run_dir),
        use_distributed_sampler=False, enable_model_summary=False, fast_dev_run=fast_dev_run,
        plugins=[AtomicCheckpointIO(on_full_disk=str(config.lightning.checkpoint.on_full_disk))],
    )
    if not fast_dev_run:
        kwargs["callbacks"] = build_callbacks(plan)
        kwargs["logger"] = build_loggers(plan) or False
    else:
        kwargs["callbacks"] = [c for c in build_callbacks(plan) if not type(c).__name__ == "ModelCheckpoint"]
    plan.manager.call_each("configure_trainer", trainer_kwargs=kwargs, config=config)
    return kwargs


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
        reason = one_line(exc, with_type=False).rstrip(".")
        raise D3UserError(f"Lightning refused the trainer settings ({settings}): {reason}; fix the lightning.* keys "
                          "(or --accelerator/--devices/--strategy/--precision)") from exc
