"""Divergence: a NaN or infinite loss or gradient stops training before the optimizer applies it, so no checkpoint
(``last.ckpt``, top-k, pre-emption) ever holds diverged weights and ``--resume_from last`` continues from a good one.

The check costs one device synchronisation per optimizer step (the loss flags of its micro-batches and the gradient
norm, read together); with several processes the ranks agree (one all-reduce), so they all stop at the same step.
Under ``16-mixed`` precision only the loss is checked: infinite gradients are the loss scaler's business (it skips
those steps and lowers the scale).
"""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from d3core.errors import D3UserError

__all__ = ["DivergenceGuard", "TrainingDiverged", "last_good_checkpoint"]


class TrainingDiverged(D3UserError):
    """The loss or a gradient became NaN or infinite; nothing of that step was applied or saved."""


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
    """Raise :class:`TrainingDiverged` at the first optimizer step whose loss or gradient is not finite (before the
    optimizer step, so the weights stay those of the last good step), or when the validation loss is not finite
    (before any checkpoint callback sees it). ``checkpoints``: the run's checkpoint folder, named in the message."""

    def __init__(self, checkpoints: str | Path):
        self.checkpoints = Path(checkpoints)
        self._finite_loss: torch.Tensor | None = None
        self._loss: torch.Tensor | None = None

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        finite = torch.isfinite(loss.detach()).all()
        if self._finite_loss is None:
            self._finite_loss, self._loss = finite, loss.detach()
        else:
            self._finite_loss = self._finite_loss & finite
            self._loss = torch.where(finite, self._loss, loss.detach())

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        finite_loss, loss = self._finite_loss, self._loss
        self._finite_loss = self._loss = None
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        check_grads = bool(grads) and str(trainer.precision) not in ("16-mixed", "16")
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float()) if check_grads else None
        flags = [f for f in (finite_loss, torch.isfinite(norm) if norm is not None else None) if f is not None]
        if not flags:
            return
        finite = bool(torch.stack([f.to(flags[0].device) for f in flags]).all())  # the one synchronisation
        if trainer.world_size > 1:
            finite = not trainer.strategy.reduce_boolean_decision(not finite, all=False)
        if finite:
            return
        if finite_loss is not None and not bool(finite_loss):
            what = f"the training loss is {float(loss):g}"
        elif norm is not None and not bool(torch.isfinite(norm)):
            what = f"the gradient norm is {float(norm):g} (the loss was finite)"
        else:
            what = "another process's loss or gradient is not finite"
        raise TrainingDiverged(self._message(f"at optimizer step {trainer.global_step + 1}: {what}"))

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
        return f"training diverged {where}; nothing of that step was applied or saved; {last}"
