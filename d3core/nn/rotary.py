"""Rotary position embedding, GPT-NeoX "rotate-half" layout (spec §4.1 step 3)."""
from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[u, v] -> [-v, u]`` over the last dimension split in two halves."""
    u, v = x.chunk(2, dim=-1)
    return torch.cat((-v, u), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x * cos + rotate_half(x) * sin``; ``cos``/``sin`` broadcast against ``x`` (cast to ``x.dtype``).

    Computed as ``x * cos`` with ``-v * sin`` and ``u * sin`` added to its halves in place (one temporary instead
    of five; autograd-safe). ``x`` may be a strided view (e.g. q and k of a packed qkv at once).
    """
    half = x.shape[-1] // 2
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    out = x * cos
    out[..., :half].addcmul_(x[..., half:], sin[..., :half], value=-1)
    out[..., half:].addcmul_(x[..., :half], sin[..., half:])
    return out


class Rotary(nn.Module):
    """Rotary angles for a head dimension ``dim`` (even).

    Buffer ``inv_freq [dim // 2]`` = ``base ** (-2j / dim)`` (persistent: the original saves it as
    ``rotary_emb.inv_freq``). ``forward(seq_len, device)`` returns ``(cos, sin)``, each fp32 ``[seq_len, dim]`` with the
    angles ``p * inv_freq_j`` duplicated over the two halves. They are cached per length and device, and recomputed
    when ``inv_freq`` changes (``load_state_dict`` writes it in place), so they are never stale.
    """

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"rotary embedding needs an even head dimension, got {dim}")
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=True)
        self._cache: tuple[tuple, tuple[torch.Tensor, torch.Tensor]] | None = None

    def forward(self, seq_len: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = self.inv_freq.float()
        if device is not None:
            inv_freq = inv_freq.to(device)
        key = (int(seq_len), inv_freq.device, self.inv_freq.data_ptr(), self.inv_freq._version)
        if self._cache is not None and self._cache[0] == key:
            cos, sin = self._cache[1]
            if torch.is_inference_mode_enabled() or not cos.is_inference():  # inference tensors stay in inference
                return cos, sin
        positions = torch.arange(seq_len, dtype=torch.float32, device=inv_freq.device)
        angles = torch.outer(positions, inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        cos_sin = (emb.cos(), emb.sin())
        self._cache = (key, cos_sin)
        return cos_sin
