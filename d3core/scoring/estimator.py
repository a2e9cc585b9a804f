"""Monte Carlo estimate of the SEDD bound on ``-log p(x0 | c)`` (steering spec §4), at the level of a score network.

For clean tokens ``x0 [L]`` and a condition ``c`` (labels, or the learned null condition)::

    -log p(x0 | c) <= E_{t ~ U[eps, 1]} [ sigma'(t) * sum_i score_entropy_i(s(x_t, t, c), x_t, x0) ]
                      + KL(p_1(. | x0) || p_limit)

The first term is exactly what the training loss (``d3core.diffusion.sedd_loss``, ``val_loss``) estimates with one
draw per sequence; the prior term is a constant per position (``~1e-17`` nats for the geometric schedule with
sigma_max = 20) but it is computed. Units: nats per sequence.

Control variate (uniform graph): the score entropy of the *uniform model* (log-scores 0) at the same ``(t, x_t)`` is
subtracted from each draw and its exact expectation added back, computed once by quadrature:
``L * U`` with ``U = E_t E_{x_t}[sigma'(t) score_entropy(0, x_t, x0)]`` per position (1.3868 nats for the D3 schedule,
just above ln 4: the bound of the uniform model). So each draw is ``L * U + sigma'(t) * sum_i [score_entropy_i(model)
- score_entropy_i(0)]``: the expectation is unchanged, and the variance of the rare, heavily weighted corrupted
positions at small t, which the two share, cancels (3-4x smaller errors at equal K, measured on an exact score).

The expectation over t uses ``K`` stratified draws: draw k takes ``t_k = eps + (1 - eps) (k + u_k) / K`` (one uniform
``u_k`` per stratum) and ``x_t ~ p_t(. | x0)``. Every random number is counter-based
(:mod:`d3core.diffusion.randomness`) and a function of ``(seed, key, k, position)`` only, where a sequence's *key* is a hash of its tokens (default) or
given: so a sequence gets the same estimate wherever it sits in the input and whatever the batch size; different
sequences get independent draws (set means average their errors out); and sequences given one key share their draws
(common random numbers: the variants of a mutation scan are paired draw by draw with their reference, which removes
most of the noise of their differences).
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
import torch

from d3core.diffusion import TRAIN_EPS, CounterDraws
from d3core.diffusion.randomness import fmix32
from d3core.diffusion.sampling import eval_mode
from d3core.nn.labels import missing_label_mask

#: counter stream of the scoring draws' times (x_t uses the corruption stream of the draw's row key)
STREAM_SCORE_TIME = 0x5EED0011
_MASK32 = 0xFFFFFFFF


def prior_kl_per_position(graph, noise) -> float:
    """``KL(p_1(. | a) || p_limit)`` in nats for one position (the same for every clean token ``a``).

    Uniform graph over N states, ``e = exp(-sigma(1))``: ``p_1(a | a) = e + (1 - e)/N``, ``p_1(y | a) = (1 - e)/N``
    otherwise, against the uniform limit ``1/N``. Absorbing graph: ``-log(1 - e)`` (the limit is the mask).
    """
    sigma = float(noise(torch.ones(1, dtype=torch.float64))[0].double().item())
    decay = math.exp(-sigma)
    if graph.absorb:
        return -math.log1p(-decay)
    n = graph.dim
    move = (1 - decay) / n
    stay = decay + move
    return stay * math.log(n * stay) + (n - 1) * move * math.log(n * move)


def sequence_keys(tokens) -> torch.Tensor:
    """``[N]`` int64 32-bit keys of the sequences ``tokens [N, L]`` (FNV-1a over the tokens): equal sequences get
    equal keys."""
    x = np.asarray(tokens.cpu() if torch.is_tensor(tokens) else tokens).astype(np.uint64)
    h = np.full(x.shape[0], 0xCBF29CE484222325, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in x.T:
            h = (h ^ column) * np.uint64(0x100000001B3)
    return torch.from_numpy(((h ^ (h >> np.uint64(32))) & np.uint64(_MASK32)).astype(np.int64))


def draw_rows(keys: torch.Tensor, draw: torch.Tensor) -> torch.Tensor:
    """Counter rows of draw ``draw [B]`` of sequences with keys ``keys [B]`` (one independent stream per pair)."""
    return keys ^ fmix32((draw * 0x9E3779B9 + 0x632BE5AB) & _MASK32)


def uniform_model_bound_per_position(graph, noise, *, eps: float = TRAIN_EPS) -> float:
    """``U``: the bound of the uniform model (log-scores 0) per position, in nats (uniform graph).

    ``U = 1/(1 - eps) * integral over sigma from sigma(eps) to sigma(1) of g(sigma)``, where ``g(sigma) =
    E_{x_t | x0}[score_entropy(0, x_t, x0)]`` takes ``x_t = x0`` with probability ``p = e^-sigma + (1 - e^-sigma)/N``
    (the entropies of both cases come from :meth:`Graph.score_entropy` itself); integrated with ``scipy.integrate.quad``
    over ``log sigma``.
    """
    from scipy.integrate import quad

    key = (type(graph).__name__, graph.dim, repr(noise), float(eps))
    if key in _UNIFORM_BOUNDS:
        return _UNIFORM_BOUNDS[key]
    zeros = torch.zeros(2, graph.dim, dtype=torch.float64)
    x, x0 = torch.tensor([0, 1]), torch.tensor([0, 0])

    def integrand(log_sigma: float) -> float:
        sigma = math.exp(log_sigma)
        same, moved = graph.score_entropy(zeros, torch.full((2,), sigma, dtype=torch.float64), x, x0).tolist()
        stay = math.exp(-sigma) + (1 - math.exp(-sigma)) / graph.dim
        return (stay * same + (1 - stay) * moved) * sigma

    ends = noise(torch.tensor([eps, 1.0], dtype=torch.float64))[0].tolist()
    value = quad(integrand, math.log(ends[0]), math.log(ends[1]), limit=200, epsabs=1e-12, epsrel=1e-10)[0]
    _UNIFORM_BOUNDS[key] = value / (1 - eps)
    return _UNIFORM_BOUNDS[key]


_UNIFORM_BOUNDS: dict[tuple, float] = {}


def stratified_times(draw: torch.Tensor, samples: int, rows: torch.Tensor, seed: int, *,
                     eps: float = TRAIN_EPS) -> torch.Tensor:
    """``[B]`` float32 times: draw k of K in stratum k of ``[eps, 1]`` (``t = eps + (1 - eps) (k + u) / K``), ``u``
    from the counter ``rows [B]`` under ``seed``."""
    u = CounterDraws(seed, rows).uniforms(STREAM_SCORE_TIME, 0, ())
    return eps + (1 - eps) * (draw.to(u.device, torch.float32) + u) / samples


def iter_bound_draws(network: torch.nn.Module, graph, noise, tokens: torch.Tensor, labels: torch.Tensor | None, *,
                     samples: int, seed: int = 0, keys: torch.Tensor | None = None, batch_size: int = 256,
                     null: bool = False, control_variate: bool = True,
                     eps: float = TRAIN_EPS, device: torch.device | str | None = None
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The bound's draws, chunk by chunk: yields ``(sequence index [b], draw index [b], contributions [b, L])``.

    ``contributions[j, i]`` in nats (without the prior term) for sequence ``sequence[j]`` at draw ``k = draw[j]``:
    ``sigma'(t_k) * score_entropy_i(...)``, or with the control variate (uniform graph)
    ``U + sigma'(t_k) * (score_entropy_i(model) - score_entropy_i(0))``. The ``N * K`` (sequence, draw) pairs are
    visited in order, at most ``batch_size`` per network call, so memory is bounded whatever ``N`` and ``K``.

    Args:
        network: ``network(tokens [B, L] long, labels, sigma [B], [null_mask=[B] bool]) -> log_scores [B, L, V]``;
            called in eval mode under ``torch.no_grad``.
        graph, noise: the diffusion's graph and noise schedule.
        tokens: ``[N, L]`` int64 clean tokens (any device; moved chunk by chunk).
        labels: ``[N, C]`` or ``[N, L, C]`` float conditioning, or None for an unconditional network; NaN in
            ``[N, C]``: that label unconditioned (networks with per-label nulls).
        samples: ``K``, stratified draws of t per sequence.
        seed: with ``keys``, all randomness: draw k of a sequence is a function of ``(seed, key, k, position)``.
        keys: ``[N]`` int64 32-bit keys (default :func:`sequence_keys`, a hash of the tokens); rows with one key
            share their draws.
        batch_size: most (sequence, draw) rows per network call.
        null: call the network with the null condition on every row (its label values are ignored).
        control_variate: use the uniform model's score entropy as a control variate (uniform graph; off: the plain
            training-loss estimate, for comparison).
        eps: lower end of the time range (the training loss's ``TRAIN_EPS``).
        device: where the network runs (default: its parameters' device).
    """
    from d3core.diffusion.sampling import model_device

    device = torch.device(device) if device is not None else model_device(network)
    n, samples, batch_size = int(tokens.shape[0]), int(samples), int(batch_size)
    keys = sequence_keys(tokens) if keys is None else keys.to(torch.int64).cpu()
    uniform = uniform_model_bound_per_position(graph, noise, eps=eps) if control_variate and not graph.absorb else None
    total = n * samples
    with torch.no_grad(), eval_mode(network):
        for start in range(0, total, batch_size):
            flat = torch.arange(start, min(start + batch_size, total), dtype=torch.int64)
            rows, draw = flat // samples, flat % samples
            x0 = tokens[rows].to(device=device, dtype=torch.int64)
            counter = draw_rows(keys[rows], draw).to(device)
            sigma, dsigma = noise(stratified_times(draw, samples, counter, seed, eps=eps))
            perturbed = CounterDraws(seed, counter).corrupt(graph, x0, sigma[:, None])
            row_labels = None if labels is None else labels[rows].to(device=device, dtype=torch.float32)
            extra = {"null_mask": torch.ones(len(flat), dtype=torch.bool, device=device)} if null else {}
            if not null and row_labels is not None and row_labels.dim() == 2 and bool(torch.isnan(row_labels).any()):
                row_labels, subset = missing_label_mask(row_labels)  # NaN: that label unconditioned (per-label null)
                extra = {"null_mask": subset}
            log_score = network(perturbed, row_labels, sigma, **extra)
            sigma64 = sigma[:, None].double()
            entropy = graph.score_entropy(log_score.double(), sigma64, perturbed, x0)
            if uniform is not None:
                entropy = entropy - graph.score_entropy(torch.zeros_like(entropy)[..., None].expand(-1, -1, graph.dim),
                                                        sigma64, perturbed, x0)
            contributions = dsigma[:, None].double() * entropy + (0.0 if uniform is None else uniform)
            yield rows.numpy(), draw.numpy(), contributions.cpu().numpy()


def bound_draws(network, graph, noise, tokens: torch.Tensor, labels: torch.Tensor | None, *, samples: int,
                seed: int = 0, keys: torch.Tensor | None = None, batch_size: int = 256, null: bool = False,
                per_position: bool = False, control_variate: bool = True,
                eps: float = TRAIN_EPS, device=None, on_rows: Callable[[int], None] | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """All draws of :func:`iter_bound_draws`, prior term included.

    Returns:
        ``(draws [N, K] float64 nats per sequence, per_position [N, L] float64 nats or None)``; ``draws[:, k]`` is
        the estimate from stratum k, ``per_position`` the mean over the draws of each position's contribution (its
        rows sum to ``draws.mean(axis=1)``). ``on_rows(done)`` is called with the (sequence, draw) rows done so far.
    """
    n, length = int(tokens.shape[0]), int(tokens.shape[1])
    prior = prior_kl_per_position(graph, noise)
    draws = np.zeros((n, int(samples)), dtype=np.float64)
    positions = np.zeros((n, length), dtype=np.float64) if per_position else None
    done = 0
    for rows, draw, contributions in iter_bound_draws(network, graph, noise, tokens, labels, samples=samples,
                                                      seed=seed, keys=keys, batch_size=batch_size, null=null,
                                                      control_variate=control_variate, eps=eps, device=device):
        draws[rows, draw] = contributions.sum(axis=1) + length * prior
        if positions is not None:
            np.add.at(positions, rows, contributions / samples)
        done += len(rows)
        if on_rows is not None:
            on_rows(done)
    if positions is not None:
        positions += prior
    return draws, positions
