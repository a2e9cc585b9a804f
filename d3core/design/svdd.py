"""Soft value-based decoding (SVDD, posterior-mean variant; spec §5) as a transition of the one sampler loop.

At every predictor step from ``t`` to ``s = t - dt``, for each of the B sequences of a chunk:

1. draw ``M`` candidate next states from the predictor's weights (candidate 0 with the sequence's own random numbers,
   so ``M = 1`` is plain sampling, draw for draw; candidate k with the numbers of ``(seed, row, k)``);
2. value each candidate: the objective of the oracle's prediction for its denoised estimate at ``s``
   (:mod:`d3core.design.values`; one network call on ``M * B`` rows, one oracle call);
3. keep candidate m with probability ``softmax(v / alpha)`` (``alpha = 0``: the best; ties go to the lowest m),
   one counter-based uniform per sequence and step.

Cost: ``M + 1`` network calls' worth of rows per step (``2 (M + 1)`` with classifier-free guidance).
"""
from __future__ import annotations

import torch

from d3core.design.values import denoised_one_hot, template_of
from d3core.diffusion import Step
from d3core.diffusion.randomness import STREAM_SELECT


def choose(values: torch.Tensor, temperature: float, u: torch.Tensor) -> torch.Tensor:
    """Index ``[B]`` of the kept candidate per column of ``values [M, B]``: ``argmax`` for ``temperature`` 0, else a
    draw from ``softmax(values / temperature)`` by the uniforms ``u [B]`` (inverse CDF)."""
    values = values.double()
    if temperature <= 0:
        return values.argmax(dim=0)
    probs = torch.softmax(values / float(temperature), dim=0)
    cumulative = probs.cumsum(dim=0)
    threshold = u.double().unsqueeze(0) * cumulative[-1:]
    return (cumulative[:-1] <= threshold).sum(dim=0)


class SVDDTransition:
    """``transition(step) -> tokens [B, L]``: keep one of ``candidates`` draws by value (see the module docstring).

    Args:
        graph, noise: the model's diffusion.
        value: ``value(one_hot [N, 4, L]) -> [N]`` (an :class:`~d3core.design.values.OracleValue`).
        candidates: M >= 1.
        temperature: alpha >= 0.
        estimate: ``mean`` or ``mode`` (:func:`~d3core.design.values.denoised_one_hot`).

    After each step :attr:`last_values` holds the kept candidates' values ``[B]`` (for progress bars).
    """

    def __init__(self, graph, noise, value, *, candidates: int = 8, temperature: float = 0.0,
                 estimate: str = "mean"):
        if candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {candidates}")
        self.graph, self.noise, self.value = graph, noise, value
        self.candidates = int(candidates)
        self.temperature = float(temperature)
        self.estimate = estimate
        self.last_values: torch.Tensor | None = None

    def __call__(self, step: Step) -> torch.Tensor:
        if self.candidates == 1:
            return step.draw()
        m, (b, length) = self.candidates, step.x.shape
        draws = step.draws.for_candidates(m)
        candidates = draws.categorical(step.weights.repeat(m, 1, 1), step.index).view(m, b, length)
        if step.project is not None:
            candidates = step.project(candidates)
        candidates = candidates.reshape(m * b, length)
        one_hot = denoised_one_hot(self.graph, self.noise, step.score_fn, candidates, step.t - step.dt,
                                   estimate=self.estimate, fixed=template_of(step.project, step.x))
        values = self.value(one_hot).view(m, b)
        keep = choose(values, self.temperature, step.draws.uniforms(STREAM_SELECT, step.index, ()))
        columns = torch.arange(b, device=keep.device)
        self.last_values = values[keep, columns]
        return candidates.view(m, b, length)[keep, columns]
