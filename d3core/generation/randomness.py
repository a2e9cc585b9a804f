"""Counter-based random numbers: every draw is a pure function of (seed, sequence index, step, position, class).

The sampler draws its noise from here instead of a stateful ``torch.Generator``, so a sequence's tokens depend only
on the seed and the sequence's global index -- not on the batch size, the chunk it falls in, or how many sequences
were drawn before it. The hash is a 32-bit integer mixer (MurmurHash3's ``fmix32``) evaluated with exact int64 tensor
arithmetic, so CPU and GPU produce the same bits.
"""
from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF
#: streams: the initial tokens and the predictor steps never share numbers
STREAM_INIT = 0x5EED0001
STREAM_STEP = 0x5EED0002


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``(x * c) mod 2**32`` for ``x`` in ``[0, 2**32)`` without int64 overflow (the constant is split in halves)."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _MASK32


def fmix32(h: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's finaliser on int64 tensors holding 32-bit values (a bijection on ``[0, 2**32)``)."""
    h = h ^ (h >> 16)
    h = _mul32(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _mul32(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def _combine(h: torch.Tensor, value) -> torch.Tensor:
    """Fold ``value`` (an int or int64 tensor of 32-bit values) into the hash ``h``."""
    value = value & _MASK32 if torch.is_tensor(value) else torch.tensor(int(value) & _MASK32, device=h.device)
    return fmix32((h ^ _mul32(fmix32(value + 0x9E3779B9 & _MASK32), 0x27D4EB2F)) & _MASK32)


def row_keys(seed: int, rows: torch.Tensor, stream: int, step: int) -> torch.Tensor:
    """``[B]`` int64 keys of sequences ``rows`` (global indices) for one stream and step."""
    seed = int(seed)
    h = torch.full_like(rows, fmix32(torch.tensor(seed & _MASK32)).item())
    h = _combine(h, (seed >> 32) & _MASK32)
    h = _combine(h, stream)
    h = _combine(h, step)
    return _combine(h, rows.to(torch.int64))


def cell_keys(shape: tuple[int, ...], device) -> torch.Tensor:
    """``shape`` int64 keys of the cells (position, class) of one sequence, flattened in row-major order."""
    n = 1
    for size in shape:
        n *= int(size)
    index = torch.arange(n, device=device, dtype=torch.int64)
    return fmix32((index * 2 + 1) & _MASK32).reshape(shape)


def uniforms(keys: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Uniform float32 numbers in ``[0, 1)``, shape ``[B, *cells.shape]``: one per (sequence key, cell key)."""
    view = keys.reshape(keys.shape + (1,) * cells.dim())
    h = fmix32(view ^ cells.unsqueeze(0))
    return (h >> 8).to(torch.float32) * (1.0 / (1 << 24))
