"""Reverse-time sampling: predictors, the final denoising step and the predictor-corrector loop (spec §6).

Conventions:
    score_fn(x, sigma) -> score     ``x [B, L]`` int64 tokens, ``sigma [B]`` total noise, ``score [B, L, V]`` ratio
                                    estimates (``exp`` of the model's log-scores, not logs).
    t                               diffusion time in (0, 1]: a number, a ``[B]`` or a ``[B, 1]`` tensor.
    dt                              positive time step (the predictor moves from t to t - dt).
    *_probs(...)                    ``[B, L, V]`` unnormalised, possibly slightly negative weights that the step draws
                                    its next tokens from (with :func:`~d3core.diffusion.catsample.sample_categorical`).
    *_step(...)                     the next tokens ``[B, L]`` int64.

The time grid of :func:`sample` is ``linspace(1, eps, steps + 1)`` with ``dt = (1 - eps) / steps``; the final
denoising step jumps from ``t = eps`` straight to sigma = 0.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from .catsample import sample_categorical
from .graphs import Graph

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NoiseSchedule(Protocol):
    def __call__(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


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


# ----------------------------------------------------------------------------------------------- probabilities
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


# ----------------------------------------------------------------------------------------------- steps
def euler_step(graph, noise, score_fn, x, t, dt, generator=None) -> torch.Tensor:
    """One Euler predictor step from ``t`` to ``t - dt``; returns ``[B, L]`` int64."""
    return sample_categorical(euler_probs(graph, noise, score_fn, x, t, dt), generator=generator)


def analytic_step(graph, noise, score_fn, x, t, dt, generator=None) -> torch.Tensor:
    """One analytic predictor step from ``t`` to ``t - dt``; returns ``[B, L]`` int64."""
    return sample_categorical(analytic_probs(graph, noise, score_fn, x, t, dt), generator=generator)


def none_step(graph, noise, score_fn, x, t, dt, generator=None) -> torch.Tensor:
    """Identity predictor (returns ``x`` unchanged; the model is not called)."""
    return x


def denoise_step(graph, noise, score_fn, x, t, generator=None) -> torch.Tensor:
    """Final denoising step at time ``t`` (usually ``eps``); samples (not argmax) from :func:`denoise_probs`."""
    return sample_categorical(denoise_probs(graph, noise, score_fn, x, t), generator=generator)


PREDICTORS: dict[str, Callable[..., torch.Tensor]] = {
    "euler": euler_step,
    "analytic": analytic_step,
    "none": none_step,
}


def get_predictor(name: str) -> Callable[..., torch.Tensor]:
    """Predictor step function by name (case-insensitive): ``euler``, ``analytic`` or ``none``."""
    step = PREDICTORS.get(str(name).lower())
    if step is None:
        raise ValueError(f"unknown predictor {name!r}; valid predictors: {', '.join(PREDICTORS)}")
    return step


# ----------------------------------------------------------------------------------------------- the loop
@contextmanager
def _eval_mode(model: torch.nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def make_score_fn(model: torch.nn.Module, labels) -> ScoreFn:
    """Wrap ``model(tokens, labels, sigma) -> log_scores`` as ``score_fn(x, sigma) -> exp(log_scores)`` (float32)."""

    def score_fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return model(x, labels, sigma.reshape(-1)).float().exp()

    return score_fn


def sample(
    model: torch.nn.Module,
    graph: Graph,
    noise: NoiseSchedule,
    shape: tuple[int, int],
    *,
    labels: torch.Tensor | None = None,
    steps: int | None = None,
    predictor: str = "analytic",
    eps: float = 1e-5,
    denoise: bool = True,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Generate sequences with the predictor-corrector sampler (spec §6.2).

    Args:
        model: score network ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]``; run in eval mode
            under ``no_grad`` (its train/eval mode is restored afterwards).
        graph, noise: the diffusion's graph and noise schedule.
        shape: ``(B, L)``, number of sequences and their length.
        labels: conditioning passed unchanged to every model call (``[B, C]``, ``[B, L, C]`` or None); moved to
            ``device``.
        steps: number of predictor steps (default: ``L``, as in the original generation protocol).
        predictor: ``"analytic"`` (default, the one D3 used), ``"euler"`` or ``"none"``.
        eps: final time of the grid ``linspace(1, eps, steps + 1)``.
        denoise: apply the final denoising step at ``t = eps``.
        device: where to sample; default the model's device.
        generator: optional ``torch.Generator`` on ``device`` for reproducible samples.
        progress: optional ``progress(completed_steps, total_steps)`` called after each predictor step.

    Returns:
        ``[B, L]`` int64 tokens on ``device``, in ``[0, V)`` (never the mask for an absorbing graph when ``denoise``).
    """
    if len(shape) != 2:
        raise ValueError(f"shape must be (batch_size, length), got {tuple(shape)}")
    batch_size, length = (int(n) for n in shape)
    steps = length if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    step_fn = get_predictor(predictor)
    device = torch.device(device) if device is not None else _model_device(model)
    if torch.is_tensor(labels):
        if labels.shape[0] != batch_size:
            raise ValueError(
                f"labels have {labels.shape[0]} rows but batch_size is {batch_size}; pass one label row per sequence"
            )
        labels = labels.to(device)

    score_fn = make_score_fn(model, labels)
    with _eval_mode(model), torch.no_grad():
        x = graph.sample_limit(batch_size, length, device=device, generator=generator)
        timesteps = torch.linspace(1, eps, steps + 1, device=device)
        dt = (1 - eps) / steps
        for i in range(steps):
            t = timesteps[i] * torch.ones(batch_size, 1, device=device)
            x = step_fn(graph, noise, score_fn, x, t, dt, generator=generator)
            if progress is not None:
                progress(i + 1, steps)
        if denoise:
            t = timesteps[-1] * torch.ones(batch_size, 1, device=device)
            x = denoise_step(graph, noise, score_fn, x, t, generator=generator)
    return x
