"""Score functions: how the sampling loop asks a network for ``score = exp(log_scores)``.

A score function is ``score_fn(x [B, L] int64, sigma [B]) -> score [B, L, V]`` (float32 ratios). The loop of
:mod:`d3core.diffusion.sampling` does not know which kind it gets:

- :func:`model_score_fn`: the network's own conditional score ``s(x, t, c)`` (the original's ``get_score_fn``);
  with ``null_mask`` all true, the unconditional score ``s(x, t, null)`` of a network trained with label dropout;
- :func:`guided_score_fn`: classifier-free guidance (spec §2) with strength ``gamma``:
  ``log s_gamma = gamma * log s(x, t, c) + (1 - gamma) * log s(x, t, null)``, computed in float32 from one network
  call on ``2B`` rows (the conditional rows, then the same rows with the null condition). ``gamma = 1`` is exactly
  :func:`model_score_fn` (one call on B rows), ``gamma = 0`` exactly the unconditional score.

A score function accepts any multiple ``k * B`` of its ``B`` label rows (candidate-major: row ``m * B + b`` is
conditioned on label row ``b``), so guided design can ask for the scores of ``k`` candidates of every sequence in one
call.

The null condition is part of the architecture contract (:mod:`d3core.architecture`): a network built with
``null_condition`` accepts ``forward(tokens, labels, sigma, null_mask=mask)`` where ``mask [B]`` (bool) marks the rows
whose labels are replaced by the learned null condition (their label values are ignored).
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _context(autocast_dtype: torch.dtype | None, device: torch.device):
    if autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=autocast_dtype)


def _tiled(labels, rows: int):
    """``labels`` repeated to ``rows`` rows when ``rows`` is a multiple ``k * B`` of their ``B`` rows (candidates)."""
    if labels is None or not torch.is_tensor(labels) or labels.shape[0] == rows or labels.shape[0] == 0:
        return labels
    if rows % labels.shape[0]:
        raise ValueError(f"{rows} sequences for {labels.shape[0]} label rows: give a multiple of the label rows")
    return labels.repeat(rows // labels.shape[0], *([1] * (labels.dim() - 1)))


def model_score_fn(model, labels, *, null: bool = False, autocast_dtype: torch.dtype | None = None) -> ScoreFn:
    """``score_fn`` of ``model(tokens, labels, sigma) -> log_scores``: ``exp`` of the output in float32.

    Args:
        model: the score network (any callable following the forward contract).
        labels: conditioning passed unchanged to every call (``[B, C]``, ``[B, L, C]`` or None).
        null: every row gets the null condition (the unconditional score; the network must have one).
        autocast_dtype: run the network under ``torch.autocast`` with this dtype (mixed precision).
    """

    def score_fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        extra = {"null_mask": torch.ones(x.shape[0], dtype=torch.bool, device=x.device)} if null else {}
        with _context(autocast_dtype, x.device):
            log_scores = model(x, _tiled(labels, x.shape[0]), sigma.reshape(-1), **extra)
        return log_scores.float().exp()

    return score_fn


def guided_score_fn(model, labels: torch.Tensor, gamma: float, *,
                    autocast_dtype: torch.dtype | None = None) -> ScoreFn:
    """Classifier-free guided ``score_fn`` with strength ``gamma`` (1: conditional, 0: unconditional, > 1: sharper).

    ``labels`` (``[B, C]`` or ``[B, L, C]``) are the requested conditions; the network must accept ``null_mask``.
    """
    gamma = float(gamma)
    if gamma == 1.0:
        return model_score_fn(model, labels, autocast_dtype=autocast_dtype)
    if gamma == 0.0:
        return model_score_fn(model, labels, null=True, autocast_dtype=autocast_dtype)

    def score_fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        null_mask = torch.arange(2 * batch, device=x.device) >= batch
        sigma = sigma.reshape(-1)
        rows = _tiled(labels, batch)
        with _context(autocast_dtype, x.device):
            log_scores = model(torch.cat([x, x]), torch.cat([rows, rows]), torch.cat([sigma, sigma]),
                               null_mask=null_mask)
        log_scores = log_scores.float()
        return (gamma * log_scores[:batch] + (1.0 - gamma) * log_scores[batch:]).exp()

    return score_fn
