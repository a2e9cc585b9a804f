"""Categorical sampling by an exponential race (spec §2.5).

Given non-negative, unnormalised weights ``w[..., K]``, draw ``U ~ Uniform[0, 1)`` per entry, form
``G = 1e-10 - log(U + 1e-10)`` (approximately Exp(1)) and return ``argmax_k w_k / G_k``. Index ``k`` wins with
probability proportional to ``w_k``. Negative weights are never selected while a positive one exists; there is no
clamping or renormalisation (exactly as in the original code).
"""
from __future__ import annotations

import torch


def sample_categorical(weights: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one index per row of unnormalised weights.

    Args:
        weights: ``[..., K]`` float tensor (half precision is upcast to float32) of non-negative (unnormalised) probabilities.
        generator: optional ``torch.Generator`` on ``weights.device`` for reproducible draws.

    Returns:
        ``[...]`` int64 tensor of indices in ``[0, K)``, on ``weights.device``.
    """
    if weights.dtype in (torch.float16, torch.bfloat16):
        weights = weights.float()  # a low-precision uniform draw would bias the race
    uniform = torch.rand(weights.shape, generator=generator, device=weights.device, dtype=weights.dtype)
    exponential = 1e-10 - (uniform + 1e-10).log()
    return (weights / exponential).argmax(dim=-1)
