"""Reverse-time sampling: one predictor registry and one predictor loop for every kind of generation (spec §6).

Everything that generates sequences -- ``d3 sample``, the Python API, the SP-MSE callback, guided and template
sampling -- runs :func:`sample_from_score`. What differs between them is what is handed to it:

- the *score function* ``score_fn(x, sigma) -> score``: plain conditional, classifier-free guided or unconditional
  (:mod:`d3core.diffusion.scores`);
- a *projection* ``project(x) -> x`` applied to the start state, after every step and after denoising (templates:
  fixed positions put back, SEDD's ``proj_fun``);
- the *draws*: where the random numbers come from (:mod:`d3core.diffusion.randomness`);
- optionally a *transition* hook that replaces the single draw of a step (see :class:`Step`).

Conventions:
    score_fn(x, sigma) -> score     ``x [B, L]`` int64 tokens, ``sigma [B]`` total noise, ``score [B, L, V]`` float32
                                    ratio estimates (``exp`` of the model's log-scores, not logs).
    t                               diffusion time in (0, 1]: a number, a 0-d, ``[B]`` or ``[B, 1]`` tensor.
    dt                              positive time step (the predictor moves from t to t - dt).
    *_probs(...)                    ``[B, L, V]`` unnormalised, possibly slightly negative weights that the step draws
                                    its next tokens from.

The time grid is ``linspace(start, eps, steps + 1)`` with ``dt = (start - eps) / steps`` (``start = 1`` unless the
run starts from given sequences); the final denoising step jumps from ``t = eps`` straight to sigma = 0.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
import torch.nn.functional as F

from .graphs import Graph
from .randomness import GeneratorDraws
from .scores import ScoreFn, model_score_fn

#: the sampler's lowest time (the original's sampling eps); training uses 1e-3
SAMPLING_EPS = 1e-5


class NoiseSchedule(Protocol):
    def __call__(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class Draws(Protocol):
    """Random numbers of one batch (see :mod:`d3core.diffusion.randomness`)."""

    def limit(self, graph: Graph, length: int) -> torch.Tensor: ...
    def corrupt(self, graph: Graph, x0: torch.Tensor, sigma) -> torch.Tensor: ...
    def categorical(self, weights: torch.Tensor, step: int) -> torch.Tensor: ...


def _time_column(t, x: torch.Tensor) -> torch.Tensor:
    """Diffusion time as a ``[B, 1]`` float tensor on ``x.device`` (B = ``x.shape[0]``)."""
    if torch.is_tensor(t):
        t = t.to(device=x.device)
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        if t.dim() == 0:
            return t.expand(x.shape[0]).unsqueeze(-1)
        return t.reshape(-1, 1).expand(x.shape[0], 1)
    return torch.full((x.shape[0], 1), float(t), device=x.device, dtype=torch.get_default_dtype())


def _flat(sigma: torch.Tensor) -> torch.Tensor:
    """``[B, 1]`` -> ``[B]`` (the model's sigma shape)."""
    return sigma.reshape(-1)


# ----------------------------------------------------------------------------------------------- predictors
def euler_probs(graph: Graph, noise: NoiseSchedule, score_fn: ScoreFn, x: torch.Tensor, t, dt: float) -> torch.Tensor:
    """Euler (first-order) reverse step weights: ``onehot(x) + dt * sigma'(t) * reverse_rate(x, score(x, sigma(t)))``.

    The stay weight can become negative (then it is never chosen).
    """
    sigma, dsigma = noise(_time_column(t, x))
    score = score_fn(x, _flat(sigma))
    rates = dt * dsigma.unsqueeze(-1) * graph.reverse_rate(x, score)
    return F.one_hot(x, num_classes=graph.dim).to(rates) + rates


def analytic_probs(graph: Graph, noise: NoiseSchedule, score_fn: ScoreFn, x: torch.Tensor, t, dt: float) -> torch.Tensor:
    """Analytic (Tweedie tau-leaping) step weights:
    ``staggered_score(score, dsigma) * transp_transition(x, dsigma)`` with ``dsigma = sigma(t) - sigma(t - dt)``
    and ``score = score_fn(x, sigma(t))``."""
    t = _time_column(t, x)
    curr_sigma = noise(t)[0]
    next_sigma = noise(t - dt)[0]
    dsigma = curr_sigma - next_sigma
    score = score_fn(x, _flat(curr_sigma))
    return graph.staggered_score(score, dsigma) * graph.transp_transition(x, dsigma)


def denoise_probs(graph: Graph, noise: NoiseSchedule, score_fn: ScoreFn, x: torch.Tensor, t) -> torch.Tensor:
    """Final denoising weights from ``sigma(t)`` all the way to 0:
    ``staggered_score(score, sigma) * transp_transition(x, sigma)``; for an absorbing graph the mask column is
    dropped, so the result is ``[B, L, V - 1]`` and the mask can never be drawn."""
    sigma = noise(_time_column(t, x))[0]
    score = score_fn(x, _flat(sigma))
    probs = graph.staggered_score(score, sigma) * graph.transp_transition(x, sigma)
    if graph.absorb:
        probs = probs[..., :-1]
    return probs


ProbsFn = Callable[[Graph, NoiseSchedule, ScoreFn, torch.Tensor, Any, float], torch.Tensor]

#: the predictor registry: name -> step weights (``None``: the identity predictor, the model is never called)
PREDICTORS: dict[str, ProbsFn | None] = {"analytic": analytic_probs, "euler": euler_probs, "none": None}


def get_predictor(name: str) -> ProbsFn | None:
    """Predictor weights function by name (case-insensitive): ``analytic``, ``euler`` or ``none`` (-> None)."""
    key = str(name).lower()
    if key not in PREDICTORS:
        raise ValueError(f"unknown predictor {name!r}; valid predictors: {', '.join(PREDICTORS)}")
    return PREDICTORS[key]


# ----------------------------------------------------------------------------------------------- the loop
@dataclass
class Step:
    """What a *transition* hook sees at one predictor step: it returns the next tokens ``[B, L]``.

    The default transition is ``step.draw()``. A hook may draw several candidates (from ``weights`` with its own
    numbers) and select among them, using ``score_fn`` (e.g. :func:`denoise_probs` at ``t - dt`` for the denoised
    estimate of a candidate; it takes any multiple of B rows, candidate-major) and ``project`` (which broadcasts over
    a leading candidate axis, ``[M, B, L]``); the loop then projects its choice and moves on.
    """

    index: int                  #: 0 .. steps - 1
    t: float                    #: time before the step
    dt: float                   #: the step moves from t to t - dt
    x: torch.Tensor             #: tokens at t, [B, L]
    weights: torch.Tensor       #: the predictor's unnormalised weights, [B, L, V]
    draws: Draws
    score_fn: ScoreFn
    project: Callable[[torch.Tensor], torch.Tensor] | None = None   #: the run's projection (None: no fixed positions)

    def draw(self) -> torch.Tensor:
        """The loop's own draw from ``weights`` (what happens without a hook)."""
        return self.draws.categorical(self.weights, self.index)


def sample_from_score(score_fn: ScoreFn, graph: Graph, noise: NoiseSchedule, x: torch.Tensor, draws: Draws, *,
                      steps: int, predictor: str = "analytic", start: float = 1.0, eps: float = SAMPLING_EPS,
                      denoise: bool = True, project: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      transition: Callable[[Step], torch.Tensor] | None = None,
                      on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Run the reverse process from tokens ``x`` at time ``start`` down to ``eps`` (spec §6.2).

    Args:
        score_fn: ``(x [B, L], sigma [B]) -> score [B, L, V]`` (plain, guided, ...).
        graph, noise: the diffusion's graph and noise schedule.
        x: ``[B, L]`` int64 tokens at time ``start`` (e.g. ``draws.limit(graph, L)``), already projected.
        draws: the batch's random numbers (:class:`~d3core.diffusion.randomness.CounterDraws` or
            :class:`~d3core.diffusion.randomness.GeneratorDraws`); step ``i`` draws with index ``i``, the final
            denoising step with index ``steps``.
        steps: predictor steps (the original's generation protocol: ``L``).
        predictor: a name of :data:`PREDICTORS`.
        start: time of ``x`` (1 = the limit distribution).
        eps: final time of the grid.
        denoise: apply the final denoising step at ``t = eps``.
        project: applied after every step and after denoising (templates put their fixed positions back).
        transition: optional hook replacing the draw of each predictor step (see :class:`Step`).
        on_step: ``on_step(done, steps)`` after every predictor step.

    Returns:
        ``[B, L]`` int64 tokens (never the mask of an absorbing graph when ``denoise``). Call under ``no_grad``.
    """
    weights_of = get_predictor(predictor)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0 < eps < start <= 1:
        raise ValueError(f"need 0 < eps < start <= 1, got eps={eps}, start={start}")
    timesteps = torch.linspace(start, eps, steps + 1, device=x.device)
    dt = (start - eps) / steps
    for i in range(steps):
        if weights_of is not None:
            t = timesteps[i]
            weights = weights_of(graph, noise, score_fn, x, t, dt)
            if transition is None:
                x = draws.categorical(weights, i)
            else:
                x = transition(Step(i, float(t), dt, x, weights, draws, score_fn, project))
            if project is not None:
                x = project(x)
        if on_step is not None:
            on_step(i + 1, steps)
    if denoise:
        x = draws.categorical(denoise_probs(graph, noise, score_fn, x, timesteps[-1]), steps)
        if project is not None:
            x = project(x)
    return x


@contextmanager
def eval_mode(model: torch.nn.Module):
    """The model in eval mode inside the block; its train/eval mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model without tensors."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def sample(
    model: torch.nn.Module,
    graph: Graph,
    noise: NoiseSchedule,
    shape: tuple[int, int],
    *,
    labels: torch.Tensor | None = None,
    steps: int | None = None,
    predictor: str = "analytic",
    eps: float = SAMPLING_EPS,
    denoise: bool = True,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Generate one batch with the original's generation protocol, random numbers from a ``torch.Generator``.

    Args:
        model: score network ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]``; run in eval mode
            under ``no_grad`` (its train/eval mode is restored afterwards).
        graph, noise: the diffusion's graph and noise schedule.
        shape: ``(B, L)``, number of sequences and their length.
        labels: conditioning passed unchanged to every model call (``[B, C]``, ``[B, L, C]`` or None); moved to
            ``device``.
        steps: number of predictor steps (default: ``L``, as in the original generation protocol).
        predictor: ``"analytic"`` (default, the one D3 generated with), ``"euler"`` or ``"none"``.
        eps: final time of the grid ``linspace(1, eps, steps + 1)``.
        denoise: apply the final denoising step at ``t = eps``.
        device: where to sample; default the model's device.
        generator: optional ``torch.Generator`` on ``device`` for reproducible samples (torch's global one if None).
        progress: optional ``progress(completed_steps, total_steps)`` called after each predictor step.

    Returns:
        ``[B, L]`` int64 tokens on ``device``, in ``[0, V)`` (never the mask for an absorbing graph when ``denoise``).
        For seeded sampling independent of the batch size, use :func:`d3core.generation.generate`.
    """
    if len(shape) != 2:
        raise ValueError(f"shape must be (batch_size, length), got {tuple(shape)}")
    batch_size, length = (int(n) for n in shape)
    steps = length if steps is None else int(steps)
    device = torch.device(device) if device is not None else model_device(model)
    if torch.is_tensor(labels):
        if labels.shape[0] != batch_size:
            raise ValueError(
                f"labels have {labels.shape[0]} rows but batch_size is {batch_size}; pass one label row per sequence"
            )
        labels = labels.to(device)
    draws = GeneratorDraws(batch_size, device, generator)
    with eval_mode(model), torch.no_grad():
        x = draws.limit(graph, length)
        return sample_from_score(model_score_fn(model, labels), graph, noise, x, draws, steps=steps,
                                 predictor=predictor, eps=eps, denoise=denoise, on_step=progress)
