"""Lightning training, one job a module:

- :mod:`~d3core.training.plan`        ``plan_run``: plugins, config, data and run directory checked before anything heavy;
- :mod:`~d3core.training.run_settings` ``RunSettings``: accelerator, processes, strategy, precision, batches, seed and
  compile, resolved once for the run on this machine;
- :mod:`~d3core.training.settings`    batch, accelerator/strategy and hardware checks; notes on what does not apply;
- :mod:`~d3core.training.resume`      ``--resume_from`` any format; the settings a resumed run keeps;
- :mod:`~d3core.training.ranks`       rank 0 (without importing Lightning) and the shared run directory;
- :mod:`~d3core.training.components`  callbacks and loggers from the registries;
- :mod:`~d3core.training.trainer`     the ``Trainer``'s keyword arguments and the translation of its refusals;
- :mod:`~d3core.training.runner`      ``fit``: train a plan;
- :mod:`~d3core.training.module`      ``D3LightningModule``: SEDD loss, AdamW + warm-up, EMA, checkpoint contents;
- :mod:`~d3core.training.datamodule`  ``D3DataModule``: seeded, resumable data order;
- :mod:`~d3core.training.preemption`, :mod:`~d3core.training.atomic_io`: SIGTERM checkpoints, atomic checkpoint IO.

The Python API's names are resolved lazily here: ``from d3core.training import plan_run, fit, trainer_kwargs``.
"""
from d3core.lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, {
    "RunPlan": "d3core.training.plan",
    "RunSettings": "d3core.training.run_settings",
    "plan_run": "d3core.training.plan",
    "build_run_network": "d3core.training.plan",
    "trainer_kwargs": "d3core.training.trainer",
    "fit": "d3core.training.runner",
    "is_rank_zero": "d3core.training.ranks",
})
