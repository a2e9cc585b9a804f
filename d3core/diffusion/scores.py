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

Conditioning on a subset of the labels: NaN in ``labels [B, C]`` leaves that label unconditioned (``--labels
HepG2=3,K562=-1`` on a three-label model); the network then gets ``null_mask [B, C]`` (its per-label nulls,
``model.label_nulls``), and guidance mixes that score with the fully unconditional one (every label null).
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


def _label_subset(labels):
    """``(labels with NaN as 0, mask [B, C] | None)``: the mask marks labels left unconditioned (NaN); None when every
    label is given (or the labels are not global)."""
    if labels is None or not torch.is_tensor(labels) or labels.dim() != 2:
        return labels, None
    mask = torch.isnan(labels)
    if not bool(mask.any()):
        return labels, None
    return labels.masked_fill(mask, 0.0), mask


def model_score_fn(model, labels, *, null: bool = False, autocast_dtype: torch.dtype | None = None) -> ScoreFn:
    """``score_fn`` of ``model(tokens, labels, sigma) -> log_scores``: ``exp`` of the output in float32.

    Args:
        model: the score network (any callable following the forward contract).
        labels: conditioning passed unchanged to every call (``[B, C]``, ``[B, L, C]`` or None; NaN in global labels:
            that label unconditioned, through the network's per-label nulls).
        null: every row gets the null condition (the unconditional score; the network must have one).
        autocast_dtype: run the network under ``torch.autocast`` with this dtype (mixed precision).
    """
    labels, subset = _label_subset(labels)

    def score_fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if null:
            extra = {"null_mask": torch.ones(x.shape[0], dtype=torch.bool, device=x.device)}
        else:
            extra = {} if subset is None else {"null_mask": _tiled(subset, x.shape[0]).to(x.device)}
        with _context(autocast_dtype, x.device):
            log_scores = model(x, _tiled(labels, x.shape[0]), sigma.reshape(-1), **extra)
        return log_scores.float().exp()

    return score_fn


def guided_score_fn(model, labels: torch.Tensor, gamma: float, *,
                    autocast_dtype: torch.dtype | None = None) -> ScoreFn:
    """Classifier-free guided ``score_fn`` with strength ``gamma`` (1: conditional, 0: unconditional, > 1: sharper).

    ``labels`` (``[B, C]`` or ``[B, L, C]``) are the requested conditions (NaN: that label unconditioned, per label);
    the network must accept ``null_mask``.
    """
    gamma = float(gamma)
    if gamma == 1.0:
        return model_score_fn(model, labels, autocast_dtype=autocast_dtype)
    if gamma == 0.0:
        return model_score_fn(model, labels, null=True, autocast_dtype=autocast_dtype)
    labels, subset = _label_subset(labels)

    def score_fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        null_mask = torch.arange(2 * batch, device=x.device) >= batch
        if subset is not None:  # per label: the requested subset, then every label null
            null_mask = torch.cat([_tiled(subset, batch).to(x.device), torch.ones_like(_tiled(subset, batch),
                                                                                    device=x.device)])
        sigma = sigma.reshape(-1)
        rows = _tiled(labels, batch)
        with _context(autocast_dtype, x.device):
            log_scores = model(torch.cat([x, x]), torch.cat([rows, rows]), torch.cat([sigma, sigma]),
                               null_mask=null_mask)
        log_scores = log_scores.float()
        return (gamma * log_scores[:batch] + (1.0 - gamma) * log_scores[batch:]).exp()

    return score_fn
