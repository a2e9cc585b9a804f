"""Pre-emption: a SIGTERM (what cluster schedulers send before killing a job) ends training with a resumable
``last.ckpt``.

Lightning turns SIGTERM into a ``SIGTERMException`` at the end of the current optimizer step (on every rank); this
callback saves the checkpoint while the trainer is still intact, before Lightning tears it down.
"""
from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException


class CheckpointOnSigterm(pl.Callback):
    """Save ``path`` (atomically, through the trainer's checkpoint IO) when training stops on SIGTERM."""

    def __init__(self, path: str):
        self.path = path

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and trainer.global_step > 0:
            trainer.save_checkpoint(self.path, weights_only=False)
