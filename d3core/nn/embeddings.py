"""Noise-level conditioning: sinusoidal embedding of sigma followed by an MLP (spec §4.1 step 2, §4.2 step 3)."""
from __future__ import annotations

import math

import torch
from torch import nn

from d3core.nn.layers import in_fp32


def timestep_embedding(sigma: torch.Tensor, dim: int = 256, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[cos(sigma * f_k), sin(sigma * f_k)]``, ``f_k = exp(-ln(max_period) * k / (dim // 2))``.

    ``sigma``: ``[B]`` total noise (any float dtype; computed in fp32). Returns ``[B, dim]`` fp32 (an odd ``dim`` gets
    one trailing zero column).
    """
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32, device=sigma.device)
    freqs = torch.exp(-math.log(max_period) * k / half)
    args = sigma.reshape(-1, 1).float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepEmbedder(nn.Module):
    """``sigma [B] -> [B, hidden_size]``: ``Linear(freq_dim -> hidden) -> SiLU -> Linear(hidden -> hidden)``.

    Parameters ``mlp.0.{weight,bias}`` and ``mlp.2.{weight,bias}`` (the original's ``sigma_map.mlp.*``). The caller
    applies the outer SiLU (``c = silu(sigma_map(sigma))``), as the original does.
    """

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256):
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        """``[B]`` -> ``[B, hidden]`` in the weights' dtype: fp32 under ``bf16-mixed`` (no autocast, spec §4.1)."""
        return in_fp32(self.mlp, timestep_embedding(sigma, self.frequency_embedding_size))
