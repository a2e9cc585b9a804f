"""d3-dna's convolutional score network (``d3_dna.models.ConvolutionalModel``, d3-dna 0.1.3), as d3-dna computes it.

Not d3's ``Conv``: the label is one raw *input channel* (a global ``[B, 1]`` label broadcast over the positions, or
a per-position ``[B, L, 1]`` track; None gives a zero channel), there is no label MLP, the log-score of the current
token is *not* zeroed, and d3-dna's never-used modules (the Fourier time embedding ``embed``, ``scale``) are kept for
the keys. The tower is 20 dilated layers (dilations ``[1, 1, 4, 16, 64]`` four times), as d3-dna hard-wires it::

    sigma_map.mlp.{0,2}.{weight,bias}   TimestepEmbedder(cond)
    embed.0.W                           [cond / 2]  frozen Gaussian Fourier features (unused)
    embed.1.{weight,bias}               Linear(cond -> cond) (unused)
    linear.{weight,bias}                Conv1d(V + 1 -> channels, k=9, padding 4)
    conv_blocks.N.{weight,bias}         Conv1d(channels -> channels, k=9, dilation d_N, padding 4 d_N)
    denses.N.dense.{weight,bias}        Linear(cond -> channels)
    norms.N.{weight,bias}               GroupNorm(1, channels)
    scale                               [1] (unused)
    final.{0,2}.{weight,bias}           Conv1d(channels -> channels, 1), GELU, Conv1d(channels -> V, 1)

Layer N: ``out = silu(conv_N(norm_N(out + dense_N(c)[:, :, None]))) + out`` with ``c = silu(sigma_map(sigma))``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from d3core.api import D3UserError, Dense, TimestepEmbedder

KERNEL_SIZE = 9
DILATIONS = (1, 1, 4, 16, 64) * 4


class FourierFeatures(nn.Module):
    """d3-dna's ``GaussianFourierProjection``: a frozen ``W [dim / 2]`` (30 N(0, 1)); the network never calls it."""

    def __init__(self, dim: int, scale: float = 30.0):
        super().__init__()
        self.W = nn.Parameter(torch.randn(dim // 2) * scale, requires_grad=False)


class D3dnaConvNet(nn.Module):
    """``forward(tokens [B, L] long, labels [B, 1] | [B, L, 1] | [B, 1, L] | None, sigma [B]) -> log_scores
    [B, L, V]`` (fp32). A two-column global label (DeepSTARR) is refused, as d3-dna refuses it."""

    def __init__(self, *, channels: int, cond_dim: int, tokens: int = 4, num_classes: int = 4):
        super().__init__()
        self.vocab_size, self.num_classes = tokens, num_classes
        self.sigma_map = TimestepEmbedder(cond_dim)
        self.embed = nn.Sequential(FourierFeatures(cond_dim), nn.Linear(cond_dim, cond_dim))
        self.linear = nn.Conv1d(tokens + 1, channels, KERNEL_SIZE, padding=KERNEL_SIZE // 2)
        self.conv_blocks = nn.ModuleList(
            nn.Conv1d(channels, channels, KERNEL_SIZE, dilation=d, padding=(KERNEL_SIZE // 2) * d) for d in DILATIONS)
        self.denses = nn.ModuleList(Dense(cond_dim, channels) for _ in DILATIONS)
        self.norms = nn.ModuleList(nn.GroupNorm(1, channels) for _ in DILATIONS)
        self.scale = nn.Parameter(torch.ones(1))
        self.final = nn.Sequential(nn.Conv1d(channels, channels, 1), nn.GELU(), nn.Conv1d(channels, tokens, 1))

    def signal_channel(self, labels: torch.Tensor | None, batch: int, length: int, like: torch.Tensor) -> torch.Tensor:
        """The label input channel ``[B, L, 1]`` (d3-dna's rules; anything else is a one-line error)."""
        if labels is None:
            return torch.zeros(batch, length, 1, device=like.device, dtype=like.dtype)
        if labels.dim() == 2 and labels.shape[-1] == 1:
            return labels.to(like.dtype).unsqueeze(1).expand(-1, length, -1)
        if labels.dim() == 3 and labels.shape[1] == length and labels.shape[2] == 1:
            return labels.to(like.dtype)
        if labels.dim() == 3 and labels.shape[2] == length and labels.shape[1] == 1:
            return labels.to(like.dtype).transpose(1, 2)
        raise D3UserError(f"d3dna-Conv takes one label channel ([B, 1], or a per-position [B, {length}, 1] track) "
                          f"or none; got labels of shape {tuple(labels.shape)} (d3-dna's convolutional network "
                          "cannot condition on two labels: such a model is used unconditionally)")

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor) -> torch.Tensor:
        x = F.one_hot(tokens, self.num_classes).float()
        x = torch.cat([x, self.signal_channel(labels, *tokens.shape, like=x)], dim=-1)
        out = F.silu(self.linear(x.transpose(1, 2)))
        c = F.silu(self.sigma_map(sigma.reshape(-1)))
        for conv, dense, norm in zip(self.conv_blocks, self.denses, self.norms):
            out = F.silu(conv(norm(out + dense(c)[:, :, None]))) + out
        return self.final(out).transpose(1, 2).float()
