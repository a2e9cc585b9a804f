"""Layers shared by the score-network architectures (pure PyTorch, no Lightning).

- :class:`TimestepEmbedder`: the sinusoidal embedding of the total noise sigma followed by a two-layer MLP
  (``sigma_map`` in both original D3 towers).
- :class:`LayerNorm`: weight-only layer norm always computed in fp32 (the DDiT norm).
- :func:`in_fp32`: run a module outside autocast (the label and sigma embeddings under ``bf16-mixed``).
- :class:`Rotary` and :func:`apply_rotary`: GPT-NeoX "rotate-half" rotary position embedding.
- :func:`modulate`: adaLN modulation ``x * (1 + scale) + shift``.
- :func:`zero_self_logit`: set the log-score of each position's current token to 0.
- :func:`check_labels`: validate a label tensor against an architecture's label count and modes.

Parameter names of these modules are those of the original D3 code, so original weights map one to one.
"""
from d3core.nn.embeddings import TimestepEmbedder, timestep_embedding
from d3core.nn.labels import LABEL_MODES, check_labels, label_mode_of
from d3core.nn.layers import LayerNorm, in_fp32, modulate, zero_self_logit
from d3core.nn.rotary import Rotary, apply_rotary, rotate_half

__all__ = [
    "LABEL_MODES",
    "LayerNorm",
    "Rotary",
    "TimestepEmbedder",
    "apply_rotary",
    "check_labels",
    "in_fp32",
    "label_mode_of",
    "modulate",
    "rotate_half",
    "timestep_embedding",
    "zero_self_logit",
]
