"""Divergence: a NaN or infinite loss or gradient stops training before any checkpoint can save it, so no checkpoint
(``last.ckpt``, top-k, pre-emption) ever holds diverged weights and ``--resume_from last`` continues from a good one.

Each optimizer step folds its loss and gradient norm into a record on the device (no host read: a step never waits
for the GPU); the record is read once at each logging step, before every checkpoint save and at the end, and names
the first step that was not finite. With several processes the ranks agree at those reads (one all-reduce), so they
all stop together. Under ``16-mixed`` precision only the loss is checked: infinite gradients are the loss scaler's
business (it skips those steps and lowers the scale).
"""
from __future__ import annotations

import math
from pathlib import Path

import pytorch_lightning as pl
import torch

from d3core.errors import D3UserError

__all__ = ["DivergenceGuard", "TrainingDiverged", "last_good_checkpoint"]


class TrainingDiverged(D3UserError):
    """The loss or a gradient became NaN or infinite; nothing diverged was saved."""


def last_good_checkpoint(checkpoints: Path) -> tuple[Path, int] | None:
    """``(path, step)`` of ``checkpoints/last.ckpt``, else of the latest other ``.ckpt`` there, or None."""
    from d3core.checkpoints.safe_load import safe_torch_load

    candidates = sorted(checkpoints.glob("*.ckpt"), key=lambda p: (p.name == "last.ckpt", p.stat().st_mtime))
    for path in reversed(candidates):
        try:
            return path, int(safe_torch_load(path, mmap=True).get("global_step", 0))
        except (D3UserError, AttributeError):
            continue
    return None


class DivergenceGuard(pl.Callback):
    """Raise :class:`TrainingDiverged` when a training loss or gradient norm was not finite, or the validation loss is
    not finite -- before any checkpoint callback can save the run.

    The flags of every optimizer step are folded into one device tensor (no host read); it is read once at each
    logging step, before every checkpoint save (the ``every`` optimizer steps of ``lightning.checkpoint
    .every_n_train_steps``, and before each validation, whose end saves ``last.ckpt`` and the top-k) and at the end.
    So a step never waits for the device outside the logging steps, and nothing diverged is ever saved.

    Args:
        checkpoints: the run's checkpoint folder, named in the message.
        log_every: ``lightning.logging.log_every_n_steps``; ``every``: ``every_n_train_steps`` (0: none).
    """

    def __init__(self, checkpoints: str | Path, *, log_every: int = 1, every: int = 0):
        self.checkpoints = Path(checkpoints)
        self.log_every, self.every = max(1, int(log_every)), int(every)
        #: this optimizer step's micro-batch loss (the first non-finite one, if any), on the device
        self._loss: torch.Tensor | None = None
        #: on the device, since the last read: [step, loss, grad norm, bad] of the first step that was not finite
        self._first_bad: torch.Tensor | None = None

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        loss = loss.detach().float().reshape(-1)[0]
        self._loss = loss if self._loss is None else torch.where(torch.isfinite(self._loss), loss, self._loss)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        check_grads = bool(grads) and str(trainer.precision) not in ("16-mixed", "16")  # the scaler owns inf grads
        if self._loss is None and not check_grads:
            return
        device = self._loss.device if self._loss is not None else grads[0].device
        loss = self._loss if self._loss is not None else torch.zeros((), device=device)
        norm = (torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float()).to(device) if check_grads
                else torch.zeros((), device=device))
        self._loss = None
        bad = ~(torch.isfinite(loss) & torch.isfinite(norm))
        step = torch.full((), trainer.global_step + 1, dtype=torch.float32, device=device)
        record = torch.stack([step, loss, norm, bad.float()])
        if self._first_bad is None:
            self._first_bad = record
        else:  # keep the first bad step's record
            self._first_bad = torch.where(self._first_bad[3] > 0, self._first_bad, record)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args) -> None:
        step = trainer.global_step  # before ModelCheckpoint's on_train_batch_end (Lightning runs it last)
        if step % self.log_every == 0 or (self.every and step % self.every == 0) or step >= (trainer.max_steps or 0) > 0:
            self._check(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:  # the end of a validation saves last.ckpt and the top-k
            self._check(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: pl.Trainer) -> None:
        """Read the folded record (the one host read) and raise if a step since the last read was not finite."""
        record, self._first_bad = self._first_bad, None
        step, loss, norm, bad = record.tolist() if record is not None else (0, 0.0, 0.0, 0.0)
        finite = not bad
        if trainer.world_size > 1:
            finite = not trainer.strategy.reduce_boolean_decision(not finite, all=False)
        if finite:
            return
        if not bad:
            what = f"by optimizer step {trainer.global_step}: another process's loss or gradient is not finite"
        elif not math.isfinite(loss):
            what = f"at optimizer step {int(step)}: the training loss is {loss:g}"
        else:
            what = f"at optimizer step {int(step)}: the gradient norm is {norm:g} (the loss was finite)"
        raise TrainingDiverged(self._message(what))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get("val_loss")
        if value is not None and not bool(torch.isfinite(torch.as_tensor(value)).all()):
            raise TrainingDiverged(self._message(f"in the validation after optimizer step {trainer.global_step}: "
                                                 f"val_loss is {float(value):g}"))

    def _message(self, where: str) -> str:
        good = last_good_checkpoint(self.checkpoints)
        run = self.checkpoints.parent
        if good is None:
            last = ("no checkpoint was written before it; start again with a lower optim.lr (and optim.grad_clip "
                    "on), or save more often with lightning.checkpoint.every_n_train_steps")
        else:
            last = (f"the last good checkpoint is {good[0]} (step {good[1]}); fix the cause (a lower optim.lr, "
                    f"optim.grad_clip on, a bad data row), then continue with: d3 train --work_dir {run} "
                    "--resume_from last")
        return f"training diverged {where}; nothing diverged was saved; {last}"
