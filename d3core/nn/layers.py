"""Small building blocks: fp32 layer norm (with its fused adaLN modulation), fp32 embeddings under autocast,
the tanh GELU, self-logit zeroing.

They compute what the original D3 layers compute, in fewer passes over memory: the score networks are small enough on
a CPU for elementwise passes and temporaries to matter (see ``benchmarks/sampling.py``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: 2 * sqrt(2 / pi): 0.5 * (1 + tanh(a)) = sigmoid(2 a) with a = sqrt(2 / pi) * (x + 0.044715 x^3)
_GELU_SCALE = 2.0 * math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def in_fp32(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` outside autocast, ``x`` cast to the module's weight dtype: fp32 under ``bf16-mixed`` (whose
    weights are fp32), as the original computes its label and sigma embeddings (spec §4.1 step 7)."""
    weight = next(module.parameters(), None)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return module(x.to(weight.dtype if weight is not None else torch.float32))


class LayerNorm(nn.Module):
    """Layer norm without bias, normalised in fp32 even under autocast, times a learnable ``weight`` (init 1).

    ``x [..., dim]`` -> ``[..., dim]`` in ``x``'s dtype (eps 1e-5): fp32 for fp32 activations (as under ``bf16-mixed``,
    whose residual stream is fp32), bf16/fp16 in a network cast to that dtype (``bf16-true``), so the next layer's
    weights and input agree. With :func:`in_fp32`, the only places where an architecture
    controls precision: the architectures never autocast by themselves (Lightning's precision plugin does).
    :meth:`modulated` applies the adaLN modulation in the same pass.
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.layer_norm(x.float(), [self.dim], weight=self.weight.float(), eps=self.eps).to(x.dtype)

    def modulated(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``modulate(self(x), shift, scale)`` = ``norm(x) * (weight * (1 + scale)) + shift`` (``shift``/``scale``
        ``[B, 1, dim]``), with the weight folded into the small factor: two passes over ``x`` instead of four."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            normed = F.layer_norm(x.float(), [self.dim], eps=self.eps)
            return torch.addcmul(shift.float(), normed, self.weight.float() * (1 + scale.float())).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation ``x * (1 + scale) + shift`` (``shift``/``scale`` broadcast, e.g. ``[B, 1, H]``)."""
    return torch.addcmul(shift, x, 1 + scale)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    For fp32 CPU tensors that need no gradient (sampling) it is computed as the identical
    ``x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))`` in four passes on one temporary: about twice as fast as
    ATen's tanh GELU on CPUs without a vectorised tanh, and equal to it within 1e-6. Everywhere else (training, GPU, half
    precision) it is ``F.gelu(x, approximate="tanh")``.
    """
    if x.device.type != "cpu" or x.dtype != torch.float32 or (torch.is_grad_enabled() and x.requires_grad):
        return F.gelu(x, approximate="tanh")
    z = torch.addcmul(x.new_full((), _GELU_SCALE), x, x, value=_GELU_CUBIC * _GELU_SCALE)  # K (1 + c x^2)
    return z.mul_(x).sigmoid_().mul_(x)


class TanhGELU(nn.Module):
    """:func:`gelu_tanh` as a module (no parameters: a drop-in for ``nn.GELU(approximate="tanh")``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gelu_tanh(x)


def zero_self_logit(log_scores: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Return ``log_scores [B, L, V]`` with entry ``[b, i, tokens[b, i]]`` set to 0 (the log-ratio of a token to itself).

    Not in place (autograd-safe): the result has no gradient through the zeroed entries.
    """
    return torch.scatter(log_scores, -1, tokens[..., None], torch.zeros_like(log_scores[..., :1]))


class Dense(nn.Module):
    """``Linear(input_dim -> output_dim)`` under the attribute name ``dense`` (the original D3 and d3-dna CNNs' name,
    so their weights ``...dense.weight`` map one to one)."""

    def __init__(self, input_dim: int, output_dim: int):
        super().__init__()
        self.dense = nn.Linear(input_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(x)
