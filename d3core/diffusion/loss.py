"""The SEDD training loss (spec §3): diffusion-weighted denoising score entropy, in nats per sequence."""
from __future__ import annotations

import torch

from .graphs import Graph

TRAIN_EPS = 1e-3
"""Lower end of the training time distribution t ~ U[eps, 1] (the original's ``sampling_eps``)."""


def sample_times(batch_size: int, *, eps: float = TRAIN_EPS, device=None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``t = (1 - eps) U + eps`` with ``U ~ Uniform[0, 1)``: ``[batch_size]`` float32 diffusion times."""
    return (1 - eps) * torch.rand(batch_size, generator=generator, device=device) + eps


def sedd_loss(
    model,
    graph: Graph,
    noise,
    x0: torch.Tensor,
    labels,
    *,
    t: torch.Tensor | float | None = None,
    perturbed: torch.Tensor | None = None,
    eps: float = TRAIN_EPS,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sequence score-entropy loss.

    Steps: ``t ~ U[eps, 1]`` per sequence; ``(sigma, sigma') = noise(t)``; ``x_t = graph.sample_transition(x0, sigma)``;
    ``log_score = model(x_t, labels, sigma)``; ``loss = sum_L sigma'(t) * score_entropy(log_score, sigma, x_t, x0)``.
    The model is called in whatever train/eval mode it is in; the score entropy is computed in float32.

    Args:
        model: ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]``.
        graph, noise: the diffusion's graph and noise schedule.
        x0: ``[B, L]`` int64 clean tokens.
        labels: conditioning passed unchanged to the model.
        t: optional fixed times (a number or ``[B]``) instead of random ones.
        perturbed: optional fixed noisy tokens ``[B, L]`` instead of ``graph.sample_transition``.
        eps: lower end of the time distribution.
        generator: optional ``torch.Generator`` on ``x0.device`` for t and the corruption (validation uses a fixed
            seed so that checkpoints are compared on the same draws).

    Returns:
        ``[B]`` loss per sequence in nats (>= 0). Take ``.mean()`` for the training objective; divide by
        ``L * ln 2`` for bits per base.
    """
    batch_size = x0.shape[0]
    if t is None:
        t = sample_times(batch_size, eps=eps, device=x0.device, generator=generator)
    else:
        t = torch.as_tensor(t, device=x0.device)
        t = (t if t.is_floating_point() else t.float()).reshape(-1).expand(batch_size)
    sigma, dsigma = noise(t)
    if perturbed is None:
        perturbed = graph.sample_transition(x0, sigma[:, None], generator=generator)
    else:
        perturbed = perturbed.to(x0.device)
    log_score = model(perturbed, labels, sigma)
    entropy = graph.score_entropy(log_score.float(), sigma[:, None].float(), perturbed, x0)
    return (dsigma[:, None].float() * entropy).sum(dim=-1)
