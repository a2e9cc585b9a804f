"""Small building blocks: fp32 layer norm, fp32 embeddings under autocast, adaLN modulation, self-logit zeroing."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def in_fp32(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` outside autocast, ``x`` cast to the module's weight dtype: fp32 under ``bf16-mixed`` (whose
    weights are fp32), as the original computes its label and sigma embeddings (spec §4.1 step 7)."""
    weight = next(module.parameters(), None)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return module(x.to(weight.dtype if weight is not None else torch.float32))


class LayerNorm(nn.Module):
    """Layer norm without bias, normalised in fp32 even under autocast, times a learnable ``weight`` (init 1).

    ``x [..., dim]`` -> fp32 ``[..., dim]`` (eps 1e-5). With :func:`in_fp32`, the only places where an architecture
    controls precision: the architectures never autocast by themselves (Lightning's precision plugin does).
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = F.layer_norm(x.float(), [self.dim], eps=self.eps)
            return x * self.weight.float()

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation ``x * (1 + scale) + shift`` (``shift``/``scale`` broadcast, e.g. ``[B, 1, H]``)."""
    return x * (1 + scale) + shift


def zero_self_logit(log_scores: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Return ``log_scores [B, L, V]`` with entry ``[b, i, tokens[b, i]]`` set to 0 (the log-ratio of a token to itself).

    Not in place (autograd-safe): the result has no gradient through the zeroed entries.
    """
    return torch.scatter(log_scores, -1, tokens[..., None], torch.zeros_like(log_scores[..., :1]))
