"""Where the sampler's random numbers come from: a ``torch.Generator``, or counter-based numbers per sequence.

A *draws* object gives the sampling loop of :mod:`d3core.diffusion.sampling` its three kinds of random numbers, for
one batch of B sequences:

- ``limit(graph, length)``: the tokens at t = 1, ``[B, L]``;
- ``corrupt(graph, x0, sigma)``: tokens drawn from ``p_sigma(. | x0)`` (to start from given sequences at t < 1);
- ``categorical(weights, step)``: one index per position from unnormalised weights ``[B, L, V]``.

:class:`GeneratorDraws` draws them from a ``torch.Generator`` (or torch's global generator) exactly as the original code
does (``torch.randint`` for the limit, the exponential race of :func:`~d3core.diffusion.catsample.sample_categorical`).

:class:`CounterDraws` makes every number a pure function of (seed, sequence index, stream, step, position): a
sequence's tokens then depend only on the seed and its global index -- not on the batch size, the chunk it falls in, how
many sequences were drawn before it, or which process draws it (so N processes draw shares of one design set). The hash
is a 32-bit integer mixer (MurmurHash3's ``fmix32``) in exact int64 tensor arithmetic, so CPU and GPU give the same
bits. A categorical draw costs one 24-bit uniform per position (inverse CDF over the V classes), so the hashing stays
small next to a network call.
"""
from __future__ import annotations

import torch

from .catsample import sample_categorical

_MASK32 = 0xFFFFFFFF
#: streams: the initial tokens, the predictor steps and the corruption of start sequences never share numbers
STREAM_INIT = 0x5EED0001
STREAM_STEP = 0x5EED0002
STREAM_START = 0x5EED0003
#: the choice among candidates (guided design: one uniform per sequence and step)
STREAM_SELECT = 0x5EED0004
#: candidate k >= 1 of a sequence folds ``STREAM_CANDIDATE + k`` into its keys; candidate 0 is the sequence itself
STREAM_CANDIDATE = 0x5EED0100


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


def row_keys(seed: int, rows: torch.Tensor, stream: int, step: int,
             candidates: torch.Tensor | None = None) -> torch.Tensor:
    """``[B]`` int64 keys of sequences ``rows`` (global indices) for one stream and step.

    ``candidates [B]`` (int64, optional): candidate k >= 1 of a row gets keys of its own (``STREAM_CANDIDATE + k``
    folded in); candidate 0 keeps the row's keys, so one candidate reproduces plain sampling exactly.
    """
    seed = int(seed)
    h = torch.full_like(rows, fmix32(torch.tensor(seed & _MASK32)).item())
    h = _combine(h, (seed >> 32) & _MASK32)
    h = _combine(h, stream)
    h = _combine(h, step)
    h = _combine(h, rows.to(torch.int64))
    if candidates is not None:
        h = torch.where(candidates > 0, _combine(h, candidates.to(torch.int64) + STREAM_CANDIDATE), h)
    return h


def cell_keys(shape: tuple[int, ...], device) -> torch.Tensor:
    """``shape`` int64 keys of the cells (position, ...) of one sequence, flattened in row-major order."""
    n = 1
    for size in shape:
        n *= int(size)
    index = torch.arange(n, device=device, dtype=torch.int64)
    return fmix32((index * 2 + 1) & _MASK32).reshape(shape)


def uniforms(keys: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Uniform float32 numbers in ``[0, 1 - 2**-24]``, shape ``[B, *cells.shape]``: one per (sequence key, cell key)."""
    view = keys.reshape(keys.shape + (1,) * cells.dim())
    h = fmix32(view ^ cells.unsqueeze(0))
    return (h >> 8).to(torch.float32) * (1.0 / (1 << 24))


def categorical_from_uniforms(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draw: ``weights [..., K]`` (unnormalised; negative entries count as 0), ``u [...]`` uniforms in
    ``[0, 1)`` -> ``[...]`` int64 indices; index k wins with probability ``w_k / sum(w)``.

    The same law as the exponential race (which never picks a negative weight while a positive one exists).
    """
    cumulative = weights.float().clamp(min=0).cumsum(dim=-1)
    threshold = u.unsqueeze(-1) * cumulative[..., -1:]
    return (cumulative[..., :-1] <= threshold).sum(dim=-1)


class GeneratorDraws:
    """Random numbers from ``generator`` (torch's global generator when None) for ``batch_size`` sequences on
    ``device``, drawn as the original D3/SEDD code draws them."""

    def __init__(self, batch_size: int, device, generator: torch.Generator | None = None):
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.generator = generator

    def limit(self, graph, length: int) -> torch.Tensor:
        return graph.sample_limit(self.batch_size, int(length), device=self.device, generator=self.generator)

    def corrupt(self, graph, x0: torch.Tensor, sigma) -> torch.Tensor:
        return graph.sample_transition(x0, sigma, generator=self.generator)

    def categorical(self, weights: torch.Tensor, step: int) -> torch.Tensor:
        return sample_categorical(weights, generator=self.generator)


class CounterDraws:
    """Counter-based random numbers for the sequences with global indices ``rows`` (``[B]`` int64) under ``seed``.

    Step ``i`` of a run uses ``(seed, row, STREAM_STEP, i)``; the limit draw ``STREAM_INIT`` and the corruption of start
    sequences ``STREAM_START``. Cell keys are cached per shape, so a step hashes ``B * L`` numbers and nothing else.

    ``candidates [B]`` (optional) numbers the candidates of guided design (:meth:`for_candidates`): candidate k of
    sequence i draws from ``(seed, i, k)``, candidate 0 exactly as sequence i itself.
    """

    def __init__(self, seed: int, rows: torch.Tensor, candidates: torch.Tensor | None = None):
        self.seed = int(seed)
        self.rows = rows.to(torch.int64)
        self.candidates = None if candidates is None else candidates.to(device=self.rows.device, dtype=torch.int64)
        self._cells: dict[tuple[int, ...], torch.Tensor] = {}

    def for_candidates(self, count: int, first: int = 0) -> "CounterDraws":
        """Draws for ``count`` candidates of every row, candidate-major: row ``m * B + b`` is candidate
        ``first + m`` of sequence ``rows[b]`` (``B * count`` rows)."""
        if self.candidates is not None:
            raise ValueError("these draws already number candidates")
        batch = self.batch_size
        index = torch.arange(first, first + int(count), device=self.rows.device, dtype=torch.int64)
        return CounterDraws(self.seed, self.rows.repeat(int(count)), index.repeat_interleave(batch))

    @property
    def batch_size(self) -> int:
        return int(self.rows.shape[0])

    def uniforms(self, stream: int, step: int, shape: tuple[int, ...]) -> torch.Tensor:
        """``[B, *shape]`` uniforms of one stream and step."""
        cells = self._cells.get(shape)
        if cells is None:
            cells = self._cells[shape] = cell_keys(shape, self.rows.device)
        return uniforms(row_keys(self.seed, self.rows, stream, step, self.candidates), cells)

    def limit(self, graph, length: int) -> torch.Tensor:
        """I.i.d. uniform tokens for the uniform graph; the graph's own (deterministic) limit otherwise."""
        if graph.absorb:
            return graph.sample_limit(self.batch_size, int(length), device=self.rows.device)
        u = self.uniforms(STREAM_INIT, 0, (int(length),))
        return (u * graph.dim).long().clamp_(max=graph.dim - 1)

    def corrupt(self, graph, x0: torch.Tensor, sigma) -> torch.Tensor:
        """``x0 [B, L]`` corrupted with total noise ``sigma`` (``[B, 1]`` or a number): with probability
        ``1 - e^-sigma`` a position becomes a uniform token (uniform graph) or the mask (absorbing graph)."""
        u = self.uniforms(STREAM_START, 0, (int(x0.shape[1]), 2))
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x0.device).reshape(-1, 1)
        moves = u[..., 0] < 1 - torch.exp(-sigma)
        if graph.absorb:
            replacement = torch.full_like(x0, graph.dim - 1)
        else:
            replacement = (u[..., 1] * graph.dim).long().clamp_(max=graph.dim - 1)
        return torch.where(moves, replacement, x0)

    def categorical(self, weights: torch.Tensor, step: int) -> torch.Tensor:
        """One index per position of ``weights [B, L, K]`` (inverse CDF, one uniform per position)."""
        u = self.uniforms(STREAM_STEP, int(step), (int(weights.shape[1]),))
        return categorical_from_uniforms(weights, u)
