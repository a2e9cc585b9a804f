"""Sequential Monte Carlo over K particles per design (spec §5) as a transition of the one sampler loop.

Each design is a population of K particles: particle 0 is the sequence the loop carries (its own random numbers, so
``K = 1`` is plain sampling), particles 1..K-1 live in this transition (random numbers of ``(seed, row, k)``). At every
step all K particles move by the predictor's transition; each gets the value ``v_s`` of its denoised estimate
(:mod:`d3core.design.values`) and its log weight grows by ``(v_s - v_t) / alpha``. When a design's effective sample
size falls below K/2 its particles are resampled (systematic resampling, one counter-based uniform per design and
step) and their weights reset. At the last predictor step one particle per design is kept, drawn by weight, and the
loop's final denoising step finishes it.

Cost: K network calls' worth of rows per step for the moves plus K for the values.
"""
from __future__ import annotations

import torch

from d3core.design.svdd import choose
from d3core.design.values import denoised_one_hot, template_of
from d3core.diffusion import Step, get_predictor
from d3core.diffusion.randomness import STREAM_SELECT


def effective_sample_size(log_weights: torch.Tensor) -> torch.Tensor:
    """``[B]`` ESS ``1 / sum(w^2)`` of normalised weights, per column of ``log_weights [K, B]``."""
    weights = torch.softmax(log_weights, dim=0)
    return 1.0 / (weights ** 2).sum(dim=0)


def systematic_resample(log_weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Ancestor indices ``[K, B]`` for each column of ``log_weights [K, B]``, from one uniform per column ``u [B]``."""
    k = log_weights.shape[0]
    cumulative = torch.softmax(log_weights.double(), dim=0).cumsum(dim=0)
    cumulative[-1] = 1.0
    points = (u.double().unsqueeze(0) + torch.arange(k, device=u.device, dtype=torch.float64).unsqueeze(1)) / k
    ancestors = torch.searchsorted(cumulative.T.contiguous(), points.T.contiguous()).T
    return ancestors.clamp(max=k - 1)


class SMCTransition:
    """``transition(step) -> tokens [B, L]`` with K particles per design (see the module docstring).

    Args:
        graph, noise: the model's diffusion.
        value: ``value(one_hot [N, 4, L]) -> [N]``.
        predictor: the loop's predictor name (the particles move with the same one).
        steps: the loop's number of predictor steps (the last one selects the output particle).
        particles: K >= 1.
        temperature: alpha > 0 (weights ``exp((v_s - v_t) / alpha)``).
        estimate: ``mean`` or ``mode``.

    State lives for one chunk (it starts again at step 0). :attr:`last_values` holds the weighted mean value per design
    after each step; :attr:`resamples` counts the resampling events of the run.
    """

    def __init__(self, graph, noise, value, *, predictor: str, steps: int, particles: int = 8,
                 temperature: float = 0.1, estimate: str = "mean"):
        if particles < 1:
            raise ValueError(f"particles must be >= 1, got {particles}")
        if temperature <= 0:
            raise ValueError(f"smc needs a temperature > 0, got {temperature}")
        self.graph, self.noise, self.value = graph, noise, value
        self.weights_of = get_predictor(predictor)
        self.steps = int(steps)
        self.particles = int(particles)
        self.temperature = float(temperature)
        self.estimate = estimate
        self.last_values: torch.Tensor | None = None
        self.resamples = 0
        self._others: torch.Tensor | None = None
        self._log_weights: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def _start(self, step: Step) -> None:
        k, (b, length) = self.particles, step.x.shape
        others = step.draws.for_candidates(k - 1, first=1).limit(self.graph, length).view(k - 1, b, length)
        if step.project is not None:
            others = step.project(others)
        self._others = others.reshape((k - 1) * b, length)
        self._log_weights = torch.zeros(k, b, dtype=torch.float64, device=step.x.device)
        self._values = torch.zeros(k, b, dtype=torch.float64, device=step.x.device)

    def __call__(self, step: Step) -> torch.Tensor:
        if self.particles == 1:
            return step.draw()
        if step.index == 0 or self._others is None:
            self._start(step)
        k, (b, length) = self.particles, step.x.shape
        t = torch.tensor(step.t, device=step.x.device)
        weights = torch.cat([step.weights, self.weights_of(self.graph, self.noise, step.score_fn, self._others, t,
                                                           step.dt)])
        moved = step.draws.for_candidates(k).categorical(weights, step.index).view(k, b, length)
        if step.project is not None:
            moved = step.project(moved)
        moved = moved.reshape(k * b, length)
        one_hot = denoised_one_hot(self.graph, self.noise, step.score_fn, moved, step.t - step.dt,
                                   estimate=self.estimate, fixed=template_of(step.project, step.x))
        values = self.value(one_hot).view(k, b).double()
        self._log_weights = self._log_weights + (values - self._values) / self.temperature
        self._values = values
        particles = moved.view(k, b, length)
        columns = torch.arange(b, device=moved.device)
        u = step.draws.uniforms(STREAM_SELECT, step.index, ())
        self.last_values = (torch.softmax(self._log_weights, dim=0) * values).sum(dim=0)
        if step.index == self.steps - 1:
            keep = choose(self._log_weights, 1.0, u)
            self._others = None
            return particles[keep, columns]
        low = effective_sample_size(self._log_weights) < k / 2
        if bool(low.any()):
            ancestors = systematic_resample(self._log_weights, u)
            ancestors = torch.where(low.unsqueeze(0), ancestors, torch.arange(k, device=moved.device).unsqueeze(1))
            particles = particles[ancestors, columns.unsqueeze(0)]
            self._values = values.gather(0, ancestors)
            self._log_weights = torch.where(low.unsqueeze(0), torch.zeros_like(self._log_weights), self._log_weights)
            self.resamples += int(low.sum())
        self._others = particles[1:].reshape((k - 1) * b, length)
        return particles[0]
