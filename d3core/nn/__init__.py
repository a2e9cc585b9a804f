"""Layers shared by the score-network architectures (pure PyTorch, no Lightning).

- :class:`TimestepEmbedder`: the sinusoidal embedding of the total noise sigma followed by a two-layer MLP
  (``sigma_map`` in both original D3 towers).
- :class:`LayerNorm`: weight-only layer norm always computed in fp32 (the DDiT norm), with the adaLN modulation
  fused in :meth:`LayerNorm.modulated`.
- :func:`gelu_tanh` / :class:`TanhGELU`: the tanh-approximated GELU (fast on CPUs for sampling).
- :func:`in_fp32`: run a module outside autocast (the label and sigma embeddings under ``bf16-mixed``).
- :class:`Rotary` and :func:`apply_rotary`: GPT-NeoX "rotate-half" rotary position embedding.
- :func:`modulate`: adaLN modulation ``x * (1 + scale) + shift``.
- :func:`zero_self_logit`: set the log-score of each position's current token to 0.
- :class:`Dense`: a linear layer under the attribute name ``dense`` (the CNN towers' per-block label projection).
- :func:`check_labels`: validate a label tensor against an architecture's label count and modes;
  :func:`check_null_mask`, :func:`with_null_condition`: the learned null condition (classifier-free guidance);
  :func:`split_null_mask`, :class:`LabelNulls`, :func:`missing_label_mask`: the null condition per label.

Parameter names of these modules are those of the original D3 code, so original weights map one to one.
"""
from d3core.nn.embeddings import TimestepEmbedder, timestep_embedding
from d3core.nn.labels import (LABEL_MODES, LabelNulls, check_labels, check_null_mask, label_mode_of,
                              missing_label_mask, split_null_mask, with_null_condition)
from d3core.nn.layers import Dense, LayerNorm, TanhGELU, gelu_tanh, in_fp32, modulate, zero_self_logit
from d3core.nn.rotary import Rotary, apply_rotary, rotate_half

__all__ = [
    "Dense",
    "LABEL_MODES",
    "LabelNulls",
    "LayerNorm",
    "Rotary",
    "TanhGELU",
    "TimestepEmbedder",
    "apply_rotary",
    "check_labels",
    "check_null_mask",
    "gelu_tanh",
    "in_fp32",
    "label_mode_of",
    "missing_label_mask",
    "modulate",
    "rotate_half",
    "split_null_mask",
    "timestep_embedding",
    "with_null_condition",
    "zero_self_logit",
]
