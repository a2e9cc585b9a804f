"""Rotary position embedding, GPT-NeoX "rotate-half" layout (spec §4.1 step 3)."""
from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[u, v] -> [-v, u]`` over the last dimension split in two halves."""
    u, v = x.chunk(2, dim=-1)
    return torch.cat((-v, u), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x * cos + rotate_half(x) * sin``; ``cos``/``sin`` broadcast against ``x`` (cast to ``x.dtype``)."""
    return x * cos.to(x.dtype) + rotate_half(x) * sin.to(x.dtype)


class Rotary(nn.Module):
    """Rotary angles for a head dimension ``dim`` (even).

    Buffer ``inv_freq [dim // 2]`` = ``base ** (-2j / dim)`` (persistent: the original saves it as
    ``rotary_emb.inv_freq``). ``forward(seq_len, device)`` returns ``(cos, sin)``, each fp32 ``[seq_len, dim]`` with the
    angles ``p * inv_freq_j`` duplicated over the two halves. They are recomputed on each call (cheap, and never stale
    after ``load_state_dict``).
    """

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"rotary embedding needs an even head dimension, got {dim}")
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=True)

    def forward(self, seq_len: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = self.inv_freq.float()
        if device is not None:
            inv_freq = inv_freq.to(device)
        positions = torch.arange(seq_len, dtype=torch.float32, device=inv_freq.device)
        angles = torch.outer(positions, inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos(), emb.sin()
