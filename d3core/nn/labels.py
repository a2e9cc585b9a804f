"""Label conditioning modes and the shape check every architecture runs on its ``labels`` argument.

Modes (the vocabulary of ``label_modes`` in architecture and dataset metadata):

- ``"global"``: one label vector per sequence, ``[B, C]`` (DeepSTARR: C = 2, MPRA: C = 3);
- ``"per_position"``: one label vector per position, ``[B, L, C]`` (promoter: C = 1);
- ``"none"``: no labels (``labels is None``; the architecture was built with ``num_labels = 0``).

:func:`check_null_mask` and :func:`with_null_condition` implement the null condition of the architecture contract
(:mod:`d3core.architecture`): rows marked in ``null_mask [B]`` get a learned null value instead of their labels.
"""
from __future__ import annotations

import torch

from d3core.errors import D3UserError

LABEL_MODES = ("global", "per_position", "none")


def label_mode_of(labels: torch.Tensor | None) -> str:
    """The mode a label tensor is in, from its rank: None -> none, 2-D -> global, 3-D -> per_position."""
    if labels is None:
        return "none"
    return {2: "global", 3: "per_position"}.get(labels.dim(), f"{labels.dim()}-D")


def check_labels(
    labels: torch.Tensor | None,
    tokens: torch.Tensor,
    num_labels: int,
    modes: tuple[str, ...] | list[str],
    arch: str = "the architecture",
) -> str:
    """Check ``labels`` against ``tokens [B, L]``, the model's ``num_labels`` and its supported ``modes``.

    Returns the mode (``"global"``, ``"per_position"`` or ``"none"``). Raises :class:`D3UserError` with a message
    naming the shapes and the fix when they do not fit.
    """
    mode = label_mode_of(labels)
    if num_labels == 0:
        if labels is not None:
            raise D3UserError(
                f"{arch} was built with model.num_labels=0 but got labels of shape {tuple(labels.shape)}; "
                "set model.num_labels to the label count or pass labels=None"
            )
        return "none"
    if labels is None:
        raise D3UserError(
            f"{arch} was built with model.num_labels={num_labels} but got labels=None; pass labels of shape "
            f"[B, {num_labels}] (or [B, L, {num_labels}]) or build it with model.num_labels=0"
        )
    if mode not in modes or mode == "none":
        raise D3UserError(
            f"{arch} got labels of shape {tuple(labels.shape)} ({mode}); it supports label modes {list(modes)}: "
            f"pass [B, {num_labels}] for global or [B, L, {num_labels}] for per-position labels"
        )
    batch, length = tokens.shape
    want = (batch, num_labels) if mode == "global" else (batch, length, num_labels)
    if tuple(labels.shape) != want:
        raise D3UserError(
            f"{arch} got labels of shape {tuple(labels.shape)} for tokens of shape {tuple(tokens.shape)}; "
            f"expected {list(want)} (model.num_labels={num_labels}); fix model.num_labels or the label tensor"
        )
    return mode


def check_null_mask(null_mask: torch.Tensor | None, tokens: torch.Tensor, has_null: bool,
                    arch: str = "the architecture") -> torch.Tensor | None:
    """Check a ``null_mask`` argument: None, or a ``[B]`` bool tensor on a network built with a null condition.

    Returns the mask.
    """
    if null_mask is None:
        return None
    if not has_null:
        raise D3UserError(
            f"{arch} was built without a null condition (the run trained without label dropout), so it cannot "
            "replace labels by the null condition; train with training.label_dropout > 0 for classifier-free guidance"
        )
    if null_mask.dtype != torch.bool or tuple(null_mask.shape) != (tokens.shape[0],):
        raise D3UserError(f"{arch}: null_mask must be a bool tensor of shape [{tokens.shape[0]}] (one flag per row), "
                          f"got {null_mask.dtype} {tuple(null_mask.shape)}")
    return null_mask


def with_null_condition(values: torch.Tensor, null_mask: torch.Tensor | None, null_value: torch.Tensor) -> torch.Tensor:
    """``values [B, ...]`` with the rows marked in ``null_mask [B]`` replaced by ``null_value`` (broadcast over the
    remaining dimensions, e.g. ``[H]`` over ``[B, L, H]``); ``values`` itself when ``null_mask`` is None."""
    if null_mask is None:
        return values
    mask = null_mask.reshape(-1, *([1] * (values.dim() - 1)))
    return torch.where(mask, null_value.to(values.dtype), values)
