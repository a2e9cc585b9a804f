"""User callbacks (``--callback probes:NAME``) that the subprocess tests put on PYTHONPATH."""
import os
from pathlib import Path

import pytorch_lightning as pl
import torch


class SaveRankWeights(pl.Callback):
    """Each rank saves its weights as rank<N>.pt in the run directory (test_ddp)."""

    def on_train_end(self, trainer, module):
        state = {k: v.detach().cpu() for k, v in module.state_dict().items() if k.startswith("model.")}
        torch.save(state, os.path.join(trainer.default_root_dir, f"rank{trainer.global_rank}.pt"))


class MarkStep(pl.Callback):
    """Writes the global step to <run>/step.txt after every optimizer step (test_sigterm waits for it)."""

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        Path(trainer.default_root_dir, "step.txt").write_text(str(trainer.global_step))


class RankPids(pl.Callback):
    """Each rank writes its pid to <run>/rank<N>.pid when training starts, and sleeps a little after every optimizer
    step, so a test can kill one rank in the middle of a run (test_lost_rank)."""

    def on_train_start(self, trainer, module):
        Path(trainer.default_root_dir, f"rank{trainer.global_rank}.pid").write_text(str(os.getpid()))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        import time

        time.sleep(0.2)
