"""Transition graphs of the discrete diffusion (spec §2.2-§2.4).

A graph defines the rate matrix ``Q`` of a continuous-time Markov chain over ``dim`` states that corrupts every
sequence position independently: ``dp_t/dt = sigma'(t) Q p_t`` with ``p`` a column vector, the columns of ``Q``
summing to 0 and ``Q[y, x]`` the jump rate x -> y (y != x).

Shapes used throughout:
    x, x0      ``[...]`` int64 tokens in ``[0, dim)`` (typically ``[B, L]``)
    sigma      total noise, broadcastable to ``x`` once trailing singleton dims are added: ``[B, 1]``, ``[B]`` or a
               scalar (a ``[B]`` tensor is read as one value per sequence)
    score      ``[..., dim]`` ratio estimates ``s_y ~ p_t(y) / p_t(x)`` (``exp`` of the model's log-scores)
    log_score  ``[..., dim]`` the model output (natural log of ``score``)
Vectors returned for each token (``rate``, ``transition``, ...) have shape ``[..., dim]`` and the float dtype of the
noise / score argument (``torch.get_default_dtype()`` when there is none).

Formulas, including the float32 rounding paths, follow the original SEDD/D3 code so that the results agree with
``tests/fixtures/sedd_math_reference.pt``.
"""
from __future__ import annotations

import abc

import torch
import torch.nn.functional as F

from .catsample import sample_categorical


def _as_float_tensor(value, like: torch.Tensor) -> torch.Tensor:
    """``value`` (tensor or number) as a floating tensor on ``like.device``."""
    if torch.is_tensor(value):
        value = value.to(like.device)
        return value if value.is_floating_point() else value.to(torch.get_default_dtype())
    return torch.tensor(float(value), device=like.device, dtype=torch.get_default_dtype())


def _broadcast_sigma(sigma, x: torch.Tensor) -> torch.Tensor:
    """Noise level as a tensor broadcastable against tokens ``x [...]`` (trailing singleton dims added)."""
    sigma = _as_float_tensor(sigma, x)
    while 0 < sigma.dim() < x.dim():
        sigma = sigma.unsqueeze(-1)
    return sigma


def _broadcast_sigma_vec(sigma, score: torch.Tensor) -> torch.Tensor:
    """Noise level as a tensor broadcastable against per-token vectors ``score [..., dim]``."""
    sigma = _as_float_tensor(sigma, score)
    while 0 < sigma.dim() < score.dim():
        sigma = sigma.unsqueeze(-1)
    return sigma


def _expm1_switched(sigma: torch.Tensor) -> torch.Tensor:
    """``e^sigma - 1``: ``expm1`` below 0.5, ``exp(sigma) - 1`` above (as in the original code)."""
    return torch.where(sigma < 0.5, torch.expm1(sigma), torch.exp(sigma) - 1)


class Graph(abc.ABC):
    """Base class: a CTMC rate matrix over ``dim`` states."""

    name: str = "graph"

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Number of states N (vocabulary size of the diffusion, including a mask state if any)."""

    @property
    @abc.abstractmethod
    def absorb(self) -> bool:
        """True when the graph has an absorbing mask state (index ``dim - 1``)."""

    @abc.abstractmethod
    def rate(self, x: torch.Tensor) -> torch.Tensor:
        """Column ``Q[:, x]``: rates of jumping out of ``x`` to every state. ``[...]`` -> ``[..., dim]``."""

    @abc.abstractmethod
    def transp_rate(self, x: torch.Tensor) -> torch.Tensor:
        """Row ``Q[x, :]``: rates of jumping into ``x`` from every state. ``[...]`` -> ``[..., dim]``."""

    @abc.abstractmethod
    def transition(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Column ``exp(sigma Q)[:, x]``: distribution after total noise ``sigma`` starting at ``x``."""

    @abc.abstractmethod
    def transp_transition(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Row ``exp(sigma Q)[x, :]``. ``x [...]``, ``sigma`` per sequence -> ``[..., dim]``."""

    @abc.abstractmethod
    def sample_transition(self, x0: torch.Tensor, sigma, generator: torch.Generator | None = None) -> torch.Tensor:
        """Corrupt clean tokens ``x0 [...]`` with total noise ``sigma``; returns int64 ``[...]`` on ``x0.device``."""

    @abc.abstractmethod
    def staggered_score(self, score: torch.Tensor, dsigma) -> torch.Tensor:
        """``exp(-dsigma Q)`` applied to the ratio vector ``score [..., dim]`` (used by the analytic predictor)."""

    @abc.abstractmethod
    def sample_limit(self, *dims: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw int64 tokens of shape ``dims`` from the limiting (t = 1) distribution."""

    @abc.abstractmethod
    def score_entropy(self, log_score: torch.Tensor, sigma, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Denoising score entropy per position (nats, >= 0).

        Args:
            log_score: ``[..., dim]`` model output.
            sigma: total noise per sequence (``[B, 1]``, ``[B]`` or scalar).
            x: ``[...]`` noisy tokens x_t.
            x0: ``[...]`` clean tokens.

        Returns:
            ``[...]`` loss per position (same shape as ``x``), not yet weighted by the noise rate.
        """

    def reverse_rate(self, x: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        """Reverse-time rate vector ``R_y = Q[x, y] s_y`` (y != x), ``R_x = -sum_{y != x} R_y``.

        Args:
            x: ``[...]`` current tokens.
            score: ``[..., dim]`` ratio estimates (``s_x`` is never used).

        Returns:
            ``[..., dim]`` rates (per unit of total noise).
        """
        index = x.unsqueeze(-1)
        rates = self.transp_rate(x) * score
        rates = rates.scatter(-1, index, torch.zeros_like(rates))
        return rates.scatter(-1, index, -rates.sum(dim=-1, keepdim=True))

    def sample_rate(self, x: torch.Tensor, rate: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample the next tokens from the unnormalised weights ``onehot(x) + rate`` (``rate [..., dim]``)."""
        return sample_categorical(F.one_hot(x, num_classes=self.dim).to(rate) + rate, generator=generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class UniformGraph(Graph):
    """Uniform graph ``Q = (1/N) 11^T - I``: at rate 1, resample the token uniformly from all N states.

    Used by every D3 run (N = 4 for DNA).
    """

    name = "uniform"

    def __init__(self, dim: int):
        if int(dim) < 2:
            raise ValueError(f"UniformGraph needs at least 2 states, got dim={dim}")
        self._dim = int(dim)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def absorb(self) -> bool:
        return False

    def rate(self, x: torch.Tensor) -> torch.Tensor:
        edge = torch.ones(*x.shape, self.dim, device=x.device) / self.dim
        return edge.scatter(-1, x.unsqueeze(-1), -(self.dim - 1) / self.dim)

    def transp_rate(self, x: torch.Tensor) -> torch.Tensor:
        return self.rate(x)  # Q is symmetric

    def transition(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = _broadcast_sigma(sigma, x).unsqueeze(-1)
        move = (1 - (-sigma).exp()) / self.dim
        trans = torch.ones(*x.shape, self.dim, device=x.device, dtype=move.dtype) * move
        index = x.unsqueeze(-1)
        trans = trans.scatter(-1, index, torch.zeros_like(trans))
        return trans.scatter(-1, index, 1 - trans.sum(dim=-1, keepdim=True))

    def transp_transition(self, x: torch.Tensor, sigma) -> torch.Tensor:
        return self.transition(x, sigma)  # exp(sigma Q) is symmetric

    def sample_transition(self, x0: torch.Tensor, sigma, generator: torch.Generator | None = None) -> torch.Tensor:
        """With probability ``1 - e^-sigma`` replace the token by a uniform draw from all N states (may coincide)."""
        move_chance = 1 - (-_broadcast_sigma(sigma, x0)).exp()
        moves = torch.rand(x0.shape, generator=generator, device=x0.device) < move_chance
        uniform = torch.randint(0, self.dim, x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return torch.where(moves, uniform, x0)

    def staggered_score(self, score: torch.Tensor, dsigma) -> torch.Tensor:
        """``s / e + (e - 1) / (N e) * sum_j s_j`` with ``e = exp(-dsigma)``; the sum includes ``s_x``."""
        epow = (-_broadcast_sigma_vec(dsigma, score)).exp()
        return ((epow - 1) / (self.dim * epow)) * score.sum(dim=-1, keepdim=True) + score / epow

    def sample_limit(self, *dims: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """I.i.d. uniform tokens in ``[0, N)``, shape ``dims``."""
        return torch.randint(0, self.dim, dims, generator=generator, device=device)

    def score_entropy(self, log_score: torch.Tensor, sigma, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Closed form of spec §2.4 (``log_score[..., x]`` never enters)."""
        sigma = _broadcast_sigma(sigma, x)
        esigm1 = _expm1_switched(sigma)
        ratio = 1 - self.dim / (esigm1 + self.dim)
        x_index, x0_index = x.unsqueeze(-1), x0.unsqueeze(-1)

        # M = (1/N) sum_{y != x} l_y, and the "move" correction l_{x0} / E
        neg_term = log_score.mean(dim=-1) - torch.gather(log_score, -1, x_index).squeeze(-1) / self.dim
        neg_term = torch.where(
            x == x0,
            ratio * neg_term,
            torch.gather(log_score, -1, x0_index).squeeze(-1) / esigm1 + neg_term,
        )
        # K(r) terms of the true ratios
        const = torch.where(
            x == x0,
            (self.dim - 1) / self.dim * ratio * (ratio.log() - 1),
            ((-ratio.log() - 1) / ratio - (self.dim - 2)) / self.dim,
        )
        # P = (1/N) sum_{y != x} s_y
        score = log_score.exp()
        pos_term = score.mean(dim=-1) - torch.gather(score, -1, x_index).squeeze(-1) / self.dim
        return pos_term - neg_term + const


class AbsorbingGraph(Graph):
    """Absorbing ("masking") graph over ``dim`` states; the mask is state ``dim - 1``.

    Every non-mask token jumps to the mask at rate 1. For DNA, ``dim = 5`` (4 bases + mask). Note that the
    constructor takes the number of states including the mask; ``build_graph("absorbing", tokens)`` adds it.
    """

    name = "absorbing"

    def __init__(self, dim: int):
        if int(dim) < 2:
            raise ValueError(f"AbsorbingGraph needs at least 2 states (tokens + mask), got dim={dim}")
        self._dim = int(dim)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def mask_index(self) -> int:
        """Index of the absorbing mask state (``dim - 1``)."""
        return self._dim - 1

    @property
    def absorb(self) -> bool:
        return True

    def rate(self, x: torch.Tensor) -> torch.Tensor:
        """``onehot(mask) - onehot(x)`` (all zero at the mask)."""
        mask = torch.full_like(x, self.mask_index)
        return (F.one_hot(mask, num_classes=self.dim) - F.one_hot(x, num_classes=self.dim)).to(
            torch.get_default_dtype()
        )

    def transp_rate(self, x: torch.Tensor) -> torch.Tensor:
        """``-onehot(x)``, plus 1 in every entry when ``x`` is the mask (mask row = ``[1, ..., 1, 0]``)."""
        edge = -F.one_hot(x, num_classes=self.dim) + (x == self.mask_index).long().unsqueeze(-1)
        return edge.to(torch.get_default_dtype())

    def transition(self, x: torch.Tensor, sigma) -> torch.Tensor:
        raise NotImplementedError(
            "AbsorbingGraph has no forward transition(); use transp_transition() (the samplers need only that) "
            "or sample_transition() to corrupt tokens"
        )

    def transp_transition(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``e^-sigma onehot(x)``, plus ``1 - e^-sigma`` in every entry when ``x`` is the mask."""
        sigma = _broadcast_sigma(sigma, x)
        edge = (-sigma).exp().unsqueeze(-1) * F.one_hot(x, num_classes=self.dim)
        extra = torch.where(x == self.mask_index, 1 - (-sigma).exp(), torch.zeros_like(sigma))
        return edge + extra.unsqueeze(-1)

    def sample_transition(self, x0: torch.Tensor, sigma, generator: torch.Generator | None = None) -> torch.Tensor:
        """With probability ``1 - e^-sigma`` replace the token by the mask."""
        move_chance = 1 - (-_broadcast_sigma(sigma, x0)).exp()
        moves = torch.rand(x0.shape, generator=generator, device=x0.device) < move_chance
        return torch.where(moves, torch.full_like(x0, self.mask_index), x0)

    def staggered_score(self, score: torch.Tensor, dsigma) -> torch.Tensor:
        """``e^dsigma s``, and the mask entry gets an extra ``(1 - e^dsigma) sum_j s_j``."""
        dsigma = _broadcast_sigma_vec(dsigma, score)
        extra_const = (1 - dsigma.exp()) * score.sum(dim=-1, keepdim=True)
        staggered = score * dsigma.exp()
        return torch.cat([staggered[..., :-1], staggered[..., -1:] + extra_const], dim=-1)

    def sample_limit(self, *dims: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """All-mask tokens of shape ``dims`` (``generator`` is accepted for symmetry and unused)."""
        return torch.full(dims, self.mask_index, dtype=torch.long, device=device)

    def score_entropy(self, log_score: torch.Tensor, sigma, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Non-zero only where ``x`` is the mask: ``sum_{y<mask} e^{l_y} - rho l_{x0} + rho (ln rho - 1)``,
        ``rho = 1 / (e^sigma - 1)``."""
        is_mask = x == self.mask_index
        sigma = _broadcast_sigma(sigma, x)
        ratio = 1 / _expm1_switched(sigma)
        # keep unmasked positions finite (and their gradients zero): they are discarded below
        log_score = torch.where(is_mask.unsqueeze(-1), log_score, torch.zeros_like(log_score))
        neg_term = ratio * torch.gather(log_score, -1, x0.unsqueeze(-1)).squeeze(-1)
        pos_term = log_score[..., :-1].exp().sum(dim=-1)
        const = ratio * (ratio.log() - 1)
        entropy = pos_term - neg_term + const
        return torch.where(is_mask, entropy, torch.zeros_like(entropy))


GRAPHS = {"uniform": UniformGraph, "absorbing": AbsorbingGraph}


def build_graph(type: str, tokens: int) -> Graph:
    """Build a graph for a vocabulary of ``tokens`` symbols (4 for DNA).

    ``"uniform"`` -> ``UniformGraph(tokens)``; ``"absorbing"`` (alias ``"absorb"``) -> ``AbsorbingGraph(tokens + 1)``
    (one extra mask state, index ``tokens``). Names are case-insensitive.
    """
    key = str(type).lower()
    if key == "absorb":
        key = "absorbing"
    if key == "uniform":
        return UniformGraph(tokens)
    if key == "absorbing":
        return AbsorbingGraph(int(tokens) + 1)
    raise ValueError(f"unknown graph type {type!r}; valid types: {', '.join(sorted(GRAPHS))}")
