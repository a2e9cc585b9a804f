"""``SmallConvNet``: a few residual 1-D convolutions, conditioned on the noise level and the labels.

Forward contract of every d3 score network: ``model(tokens [B, L] long, labels [B, C] | [B, L, C] | None,
sigma [B]) -> log_scores [B, L, V]`` (float32); with a null condition also ``null_mask [B]`` (bool, keyword).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from d3core.nn import check_null_mask, with_null_condition


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
                 num_labels: int = 0, label_mode: str = "global", null_condition: bool = False):
        super().__init__()
        self.hidden = hidden
        self.label_mode = label_mode if num_labels else "none"
        self.null_condition = bool(null_condition and num_labels)
        self.embed = nn.Embedding(tokens, hidden)
        self.noise_mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.label_proj = nn.Linear(num_labels, hidden) if num_labels else None
        self.null_label = nn.Parameter(torch.zeros(hidden)) if self.null_condition else None
        self.norms = nn.ModuleList(nn.GroupNorm(1, hidden) for _ in range(n_blocks))
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel_size, padding=kernel_size // 2)
                                   for _ in range(n_blocks))
        self.out = nn.Linear(hidden, tokens)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor,
                null_mask: torch.Tensor | None = None) -> torch.Tensor:
        null_mask = check_null_mask(null_mask, tokens, self.null_condition, arch="tiny-arch")
        h = self.embed(tokens)                                               # [B, L, H]
        cond = self.noise_mlp(noise_features(sigma, self.hidden))            # [B, H]
        if self.label_proj is not None and labels is not None:
            projected = self.label_proj(labels.float())
            if self.null_label is not None:                                  # learned null condition
                projected = with_null_condition(projected, null_mask, self.null_label)
            if projected.dim() == 2:                                         # global labels [B, C]
                cond = cond + projected
            else:                                                            # per-position labels [B, L, C]
                h = h + projected
        x = (h + cond[:, None, :]).transpose(1, 2)                           # [B, H, L]
        for norm, conv in zip(self.norms, self.convs):
            x = x + conv(nn.functional.silu(norm(x)))
        return self.out(x.transpose(1, 2)).float()                          # [B, L, V]


class SmallOracle(nn.Module):
    """A small activity CNN for tests and benchmarks (the ``two-motifs`` dataset's oracle): ``forward(one-hot
    [B, 4, L]) -> [B, num_outputs]``.

    Conv(4 -> hidden, k = 9) -> ReLU -> Conv(hidden -> hidden, k = 1) -> ReLU, summed over positions (scaled by
    1 / 8: an activity that counts motif instances is linear in the pooled features) -> Linear(num_outputs).
    ``embed(x)`` is the pooled feature vector ``[B, hidden]``.
    """

    def __init__(self, num_outputs: int = 2, length: int = 100, hidden: int = 48, kernel_size: int = 9):
        super().__init__()
        self.num_outputs, self.length = int(num_outputs), int(length)
        self.motifs = nn.Conv1d(4, hidden, kernel_size, padding=kernel_size // 2)
        self.mix = nn.Conv1d(hidden, hidden, 1)
        self.out = nn.Linear(hidden, self.num_outputs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.mix(F.relu(self.motifs(x)))).sum(dim=-1) / 8.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(x))
