"""Label conditioning modes and the shape check every architecture runs on its ``labels`` argument.

Modes (the vocabulary of ``label_modes`` in architecture and dataset metadata):

- ``"global"``: one label vector per sequence, ``[B, C]`` (DeepSTARR: C = 2, MPRA: C = 3);
- ``"per_position"``: one label vector per position, ``[B, L, C]`` (promoter: C = 1);
- ``"none"``: no labels (``labels is None``; the architecture was built with ``num_labels = 0``).

:func:`check_null_mask` and :func:`with_null_condition` implement the null condition of the architecture contract
(:mod:`d3core.architecture`): rows marked in ``null_mask [B]`` get a learned null value instead of their labels.
Per label (missing labels, ``model.label_nulls``): ``null_mask [B, C]`` marks single labels; :func:`split_null_mask`
turns it into the rows with every label null (the row null condition, the unconditional path) and the single labels
of the other rows, which :class:`LabelNulls` replaces by a learned value per label. :func:`missing_label_mask` turns
NaN labels (not measured) into such a mask.
"""
from __future__ import annotations

import torch
from torch import nn

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
                    arch: str = "the architecture", *, num_labels: int = 0,
                    label_nulls: bool = False) -> torch.Tensor | None:
    """Check a ``null_mask`` argument: None, a ``[B]`` bool tensor (whole rows) on a network built with a null
    condition, or a ``[B, C]`` bool tensor (single labels) on one built with per-label nulls (``label_nulls``).

    Returns the mask.
    """
    if null_mask is None:
        return None
    if not has_null:
        raise D3UserError(
            f"{arch} was built without a null condition (the run trained without label dropout), so it cannot "
            "replace labels by the null condition; train with training.label_dropout > 0 for classifier-free guidance"
        )
    rows = tokens.shape[0]
    if null_mask.dtype == torch.bool and tuple(null_mask.shape) == (rows, num_labels) and num_labels:
        if not label_nulls:
            raise D3UserError(
                f"{arch} was built without per-label null conditions, so it cannot leave single labels unconditioned "
                "(missing labels, or --labels naming only some labels); give every label, or retrain with "
                "model.label_nulls=true (set by itself when the data has missing labels)")
        return null_mask
    if null_mask.dtype != torch.bool or tuple(null_mask.shape) != (rows,):
        raise D3UserError(f"{arch}: null_mask must be a bool tensor of shape [{rows}] (one flag per row) or "
                          f"[{rows}, {num_labels}] (one per label), got {null_mask.dtype} {tuple(null_mask.shape)}")
    return null_mask


def split_null_mask(null_mask: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``null_mask`` ``[B]`` or ``[B, C]`` -> ``(rows [B] | None, labels [B, C] | None)``: the rows whose every label is
    null (they take the row null condition) and the single null labels of the other rows (None for a ``[B]`` mask).
    No host synchronisation."""
    if null_mask is None or null_mask.dim() == 1:
        return null_mask, None
    rows = null_mask.all(dim=1)
    return rows, null_mask & ~rows[:, None]


def missing_label_mask(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Global ``labels [B, C]`` with NaN for labels not measured -> ``(labels with 0 there, mask [B, C])`` (bool,
    true where NaN). No host synchronisation."""
    mask = torch.isnan(labels)
    return labels.masked_fill(mask, 0.0), mask


class LabelNulls(nn.Module):
    """Learned per-label null values ``weight [C, D]`` (zero-initialised) for an embedding of global labels.

    ``forward(embed, labels [B, C], label_mask [B, C] | None) -> [B, D]``: ``embed(labels)`` when no label is masked;
    otherwise ``embed(labels with the masked ones set to 0) + label_mask @ weight``: each masked label adds its own
    learned vector, so a missing label is told apart from a measured 0, and rows without masked labels get exactly
    ``embed(labels)``.
    """

    def __init__(self, num_labels: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_labels, dim))

    def forward(self, embed, labels: torch.Tensor, label_mask: torch.Tensor | None) -> torch.Tensor:
        if label_mask is None:
            return embed(labels)
        if labels.dim() != 2:
            raise D3UserError(f"per-label null conditions need global labels [B, C]; got labels of shape "
                              f"{tuple(labels.shape)}: give every label of a per-position track")
        out = embed(labels.masked_fill(label_mask, 0.0))
        return out + label_mask.to(out.dtype) @ self.weight.to(out.dtype)


def with_null_condition(values: torch.Tensor, null_mask: torch.Tensor | None, null_value: torch.Tensor) -> torch.Tensor:
    """``values [B, ...]`` with the rows marked in ``null_mask [B]`` replaced by ``null_value`` (broadcast over the
    remaining dimensions, e.g. ``[H]`` over ``[B, L, H]``); ``values`` itself when ``null_mask`` is None."""
    if null_mask is None:
        return values
    mask = null_mask.reshape(-1, *([1] * (values.dim() - 1)))
    return torch.where(mask, null_value.to(values.dtype), values)
