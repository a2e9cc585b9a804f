"""``SmallConvNet``: a few residual 1-D convolutions, conditioned on the noise level and the labels.

Forward contract of every d3 score network: ``model(tokens [B, L] long, labels [B, C] | [B, L, C] | None,
sigma [B]) -> log_scores [B, L, V]`` (float32).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def noise_features(sigma: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features ``[B, dim]`` of the total noise ``sigma [B]``."""
    half = max(dim // 2, 1)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=sigma.device, dtype=torch.float32) / half)
    angles = sigma.float().reshape(-1, 1) * freqs[None]
    features = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    return features[:, :dim] if features.shape[1] >= dim else nn.functional.pad(features, (0, dim - features.shape[1]))


class SmallConvNet(nn.Module):
    """Token embedding + noise/label conditioning + ``n_blocks`` residual convolutions + a linear read-out."""

    def __init__(self, *, tokens: int = 4, hidden: int = 32, n_blocks: int = 2, kernel_size: int = 5,
                 num_labels: int = 0, label_mode: str = "global"):
        super().__init__()
        self.hidden = hidden
        self.label_mode = label_mode if num_labels else "none"
        self.embed = nn.Embedding(tokens, hidden)
        self.noise_mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.label_proj = nn.Linear(num_labels, hidden) if num_labels else None
        self.norms = nn.ModuleList(nn.GroupNorm(1, hidden) for _ in range(n_blocks))
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel_size, padding=kernel_size // 2)
                                   for _ in range(n_blocks))
        self.out = nn.Linear(hidden, tokens)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)                                               # [B, L, H]
        cond = self.noise_mlp(noise_features(sigma, self.hidden))            # [B, H]
        if self.label_proj is not None and labels is not None:
            projected = self.label_proj(labels.float())
            if projected.dim() == 2:                                         # global labels [B, C]
                cond = cond + projected
            else:                                                            # per-position labels [B, L, C]
                h = h + projected
        x = (h + cond[:, None, :]).transpose(1, 2)                           # [B, H, L]
        for norm, conv in zip(self.norms, self.convs):
            x = x + conv(nn.functional.silu(norm(x)))
        return self.out(x.transpose(1, 2)).float()                          # [B, L, V]
