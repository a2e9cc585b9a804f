"""Population search with the generative model as mutation kernel (``d3 design --method evolve``; spec §7).

One search per request (a label row, or a start sequence of ``--start-from``):

1. a population of P members: P plain samples of the request, or P copies of its start sequence;
2. every round, each member is re-noised to diffusion time ``renoise`` (the start/start-at variants mechanism of
   :class:`~d3core.generation.sampling_model.SamplingOptions`) and denoised by the model with the request's labels,
   guidance, template and synthesis rules in ``child_steps`` predictor steps (default 1: at equal network calls, many
   cheap children beat fewer careful ones; see docs/performance.md): its child. With ``renoise_positions`` the renoise
   is a fraction of positions instead: ``ceil(renoise * L)`` random positions of each member are in-filled from noise
   in ``child_steps`` steps (default ``ceil(renoise * steps)``), the rest pinned to the member's letters through a
   per-member template;
3. the children are valued by the guide (the objective of the oracle's predictions: one oracle call each);
4. parents and children (2P) are resampled to P with weights ``exp(beta * value)``, beta found by bisection so that
   the effective sample size ``(sum w)^2 / sum w^2`` is ``ess * P``;
5. every valued design enters an :class:`Archive` of the best distinct designs seen (pairwise Hamming distance above
   ``distance``); the output is drawn from the archive, not from the last population.

``budget`` oracle calls per request stop the rounds early. With ``max_edits`` K (start sequences only) a member may
only change the positions it already changed plus new ones while edits remain: the model in-fills (from noise, in
``child_steps`` steps, default ``ceil(renoise * steps)``) the edited positions and a random window of at most
``K - edits`` unedited ones, every other position is fixed to the start letter through a per-member template, so no
design is more than K edits from its start (guaranteed, not filtered).

Randomness: round k of request r draws from the seed ``(seed, r, k)`` (member m is row m of that draw), and the
resampling and the edit windows from ``numpy`` generators of ``(seed, r, k)``: the same seed gives the same designs
whatever ``--batch-size``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from d3core.errors import D3UserError
from d3core.generation.templates import LETTERS, Template

#: bisection steps for the selection temperature beta
BISECTION_STEPS = 60


@dataclass(frozen=True)
class EvolveSettings:
    """``population`` P per request, ``rounds`` R, ``renoise`` (diffusion time in (0, 1] a member is re-noised to),
    ``budget`` (oracle calls per request, None = P + R * P), ``ess`` (target effective sample size as a fraction of
    P), ``distance`` (archive members differ in more than this many positions), ``max_edits`` (K, with start
    sequences), ``pareto`` (output the archive's front of objective against bits per base, and the judge's objective
    when a judge is given), ``renoise_positions`` (``renoise`` is a fraction of positions, not a time),
    ``child_steps`` (predictor steps that make a child; None: 1 for a member re-noised to a time,
    ``ceil(renoise * steps)`` for an in-fill from noise, i.e. with ``renoise_positions`` or ``max_edits``)."""

    population: int = 32
    rounds: int = 8
    renoise: float = 0.5
    budget: int | None = None
    ess: float = 0.5
    distance: int = 1
    max_edits: int | None = None
    pareto: bool = False
    renoise_positions: bool = False
    child_steps: int | None = None

    def checked(self) -> "EvolveSettings":
        if self.population < 2:
            raise D3UserError(f"--population {self.population}: must be at least 2")
        if self.rounds < 0:
            raise D3UserError(f"--rounds {self.rounds}: must be >= 0")
        if not 0 < self.renoise <= 1:
            what = (f"{self.renoise * 100:g}%: a fraction of positions in (0, 100%]" if self.renoise_positions else
                    f"{self.renoise:g}: a diffusion time in (0, 1] (0.2 = about a fifth of the positions redrawn; "
                    "20% = exactly a fifth)")
            raise D3UserError(f"--renoise {what}")
        if not 0 < self.ess <= 1:
            raise D3UserError(f"--ess {self.ess:g}: a fraction of the population in (0, 1]")
        if self.budget is not None and self.budget < 1:
            raise D3UserError(f"--budget {self.budget}: must be at least 1 oracle call")
        if self.distance < 0:
            raise D3UserError(f"--archive-distance {self.distance}: must be >= 0")
        if self.child_steps is not None and self.child_steps < 1:
            raise D3UserError(f"--child-steps {self.child_steps}: must be at least 1")
        if self.max_edits is not None and self.max_edits < 1:
            raise D3UserError(f"--max-edits {self.max_edits}: must be at least 1")
        return self

    def checked_for(self, from_start: bool) -> "EvolveSettings":
        """:meth:`checked`, and fit for requests with start sequences (``from_start``) or without: ``max_edits``
        needs them, and ``budget`` must pay for the first population (1 call from a start, else P) and a round."""
        self.checked()
        if self.max_edits is not None and not from_start:
            raise D3UserError("--max-edits counts edits from a start sequence: give --start-from FILE")
        first, p = (1 if from_start else self.population), self.population
        if self.budget is not None and self.rounds and first + p > self.budget:
            raise D3UserError(f"--budget {self.budget}: the first population takes {first} oracle call(s) and a round "
                              f"{p}; give at least {first + p}")
        return self

    def steps_per_child(self, steps: int) -> int:
        """Predictor steps that make one child: ``child_steps`` when given, else ``ceil(renoise * steps)`` for an
        in-fill from noise (``renoise_positions``, or edits within ``max_edits``, which :meth:`checked_for` allows
        only from start sequences), else 1."""
        if self.child_steps is not None:
            return self.child_steps
        if self.renoise_positions or self.max_edits is not None:
            return max(1, math.ceil(self.renoise * steps))
        return 1


# -- selection ---------------------------------------------------------------------------------------------------
def effective_size(weights: np.ndarray) -> float:
    """``(sum w)^2 / sum w^2`` of non-negative weights ``[n]``: n for equal weights, 1 for one."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(weights.sum() ** 2 / max(float((weights ** 2).sum()), 1e-300))


def tempered_weights(values: np.ndarray, target: float) -> tuple[np.ndarray, float]:
    """``(weights [n] summing to 1, beta)``: ``w ~ exp(beta * values)`` with beta >= 0 found by bisection so that
    the effective sample size is ``target`` (in ``[1, n]``; beta = 0 when even equal weights fall short)."""
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.max()

    def weights(beta: float) -> np.ndarray:
        w = np.exp(beta * centred)
        return w / w.sum()

    if effective_size(weights(0.0)) <= target or np.ptp(values) == 0:
        return weights(0.0), 0.0
    low, high = 0.0, 1.0 / max(float(np.std(values)), 1e-12)
    while effective_size(weights(high)) > target and high < 1e12:
        low, high = high, high * 2
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        low, high = (middle, high) if effective_size(weights(middle)) > target else (low, middle)
    return weights(high), high


def systematic_resample(weights: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices drawn by systematic resampling of ``weights [n]`` (summing to 1): index i about
    ``count * w_i`` times, sorted."""
    positions = (rng.random() + np.arange(count)) / count
    return np.minimum(np.searchsorted(np.cumsum(weights), positions, side="right"), len(weights) - 1)


# -- the archive -------------------------------------------------------------------------------------------------
@dataclass
class Archive:
    """The best distinct designs seen: ``tokens uint8 [n, L]``, ``values float64 [n]``, ``predictions [n, K]``,
    best first; no two closer than ``distance + 1`` positions (Hamming); at most ``capacity``."""

    capacity: int
    distance: int
    tokens: np.ndarray | None = None
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    predictions: np.ndarray | None = None

    def add(self, tokens: np.ndarray, values: np.ndarray, predictions: np.ndarray) -> None:
        """Offer designs ``[m, L]``: greedily by value, one enters when it is more than ``distance`` positions from
        every better one kept."""
        if self.tokens is not None:
            tokens = np.concatenate([self.tokens, tokens])
            values = np.concatenate([self.values, values])
            predictions = np.concatenate([self.predictions, predictions])
        order = np.argsort(-values, kind="stable")
        kept: list[int] = []
        for i in order:
            if len(kept) == self.capacity:
                break
            if not kept or (tokens[kept] != tokens[i]).sum(axis=1).min() > self.distance:
                kept.append(int(i))
        self.tokens, self.values, self.predictions = tokens[kept], values[kept], predictions[kept]

    def __len__(self) -> int:
        return 0 if self.tokens is None else len(self.tokens)


def pareto_front(values: np.ndarray, costs: np.ndarray, judged: np.ndarray | None = None) -> np.ndarray:
    """Indices (by decreasing value, then increasing cost) of the designs no other dominates on ``values [n]``
    (higher is better), ``costs [n]`` (lower is better, e.g. bits per base) and, when given, ``judged [n]`` (higher
    is better: a judge oracle's objective). Of designs equal on every axis the first is kept."""
    axes = [np.asarray(values, np.float64), -np.asarray(costs, np.float64)]
    if judged is not None:
        axes.append(np.asarray(judged, np.float64))
    scores = np.stack(axes, axis=1)                                                   # [n, axes], higher is better
    at_least = (scores[None, :, :] >= scores[:, None, :]).all(axis=2)                # [i, j]: j >= i on every axis
    better = (scores[None, :, :] > scores[:, None, :]).any(axis=2)                   # [i, j]: j > i on some axis
    same = (scores[None, :, :] == scores[:, None, :]).all(axis=2)
    earlier_twin = np.triu(same, k=1).T                                               # [i, j]: j < i and equal
    dominated = (at_least & better).any(axis=1) | earlier_twin.any(axis=1)
    front = np.flatnonzero(~dominated)
    return front[np.lexsort((costs[front], -values[front]))].astype(np.int64)


# -- free positions ----------------------------------------------------------------------------------------------
def random_positions(shape: tuple[int, int], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``bool [P, L]``: ``ceil(fraction * L)`` random positions of each of P members (``--renoise 20%``)."""
    members, length = shape
    count = min(length, max(1, math.ceil(fraction * length)))
    order = np.argsort(rng.random(shape), axis=1)[:, :count]
    free = np.zeros(shape, dtype=bool)
    np.put_along_axis(free, order, True, axis=1)
    return free



def edit_window(start: np.ndarray, members: np.ndarray, max_edits: int, rng: np.random.Generator) -> np.ndarray:
    """Free positions ``bool [P, L]`` of members ``[P, L]`` made from ``start [L]``: the positions each already
    changed, plus the unedited ones of a random window of ``max_edits - edits`` positions (none when no edits are
    left), so a child never differs from ``start`` in more than ``max_edits`` positions."""
    edited = members != start[None]
    free = edited.copy()
    length = start.shape[0]
    for m, left in enumerate(max_edits - edited.sum(axis=1)):
        if left > 0:
            first = int(rng.integers(0, length - left + 1))
            free[m, first:first + left] = True
    return free


def describe_edits(start: np.ndarray, tokens: np.ndarray) -> list[str]:
    """``["12:A>G;40:C>T", ...]``: each design's changes from ``start [L]`` (positions counted from 1; ``""`` for
    none)."""
    out = []
    for row in tokens:
        changed = np.flatnonzero(row != start)
        out.append(";".join(f"{p + 1}:{LETTERS[start[p]]}>{LETTERS[row[p]]}" for p in changed))
    return out


# -- the search --------------------------------------------------------------------------------------------------
@dataclass
class Search:
    """What one request's search found: the ``archive``, the final population's ``values [P]``, the oracle calls
    spent, network rows (sequences x predictor steps) and rounds run, and per round beta and the best value."""

    archive: Archive
    final_values: np.ndarray
    oracle_calls: int
    network_rows: int
    rounds: int
    betas: list[float]
    best: list[float]


def round_seed(seed: int, request: int, round_index: int) -> int:
    """The diffusion seed of round ``round_index`` of request ``request`` (round 0: the first population)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, request, round_index]).generate_state(1)[0])


def search(sm, value, resolved, label_row: np.ndarray | None, request: int, settings: EvolveSettings, *,
           capacity: int, start: np.ndarray | None = None, on_round=None) -> Search:
    """Run the search of one request (see the module docstring).

    Args:
        sm: a :class:`~d3core.generation.SamplingModel`.
        value: ``value(tokens uint8 [n, L]) -> (predictions float32 [n, K], objective float64 [n])``.
        resolved: the request's resolved :class:`~d3core.generation.sampling_model.SamplingOptions` (its ``template``: one row).
        label_row: ``[1, C]`` conditioning of the request, or None.
        request: the request's index (seeds).
        capacity: archive size.
        start: ``uint8 [L]`` start sequence (``--start-from``), else the first population is sampled.
        on_round: ``on_round(round, best value)`` after every round (progress).
    """
    p = settings.population
    budget = settings.budget if settings.budget is not None else math.inf
    archive = Archive(capacity, settings.distance)
    if start is None:
        population = _draw(sm, replace(resolved, seed=round_seed(resolved.seed, request, 0)), label_row, p)
        pop_predictions, values = value(population)
        network, calls = p * resolved.steps, p
        archive.add(population, values, pop_predictions)
    else:
        predictions, value_of_start = value(start[None])
        network, calls = 0, 1
        archive.add(start[None], value_of_start, predictions)
        population = np.repeat(start[None], p, axis=0)
        pop_predictions, values = np.repeat(predictions, p, axis=0), np.repeat(value_of_start, p)
    steps = settings.steps_per_child(resolved.steps)
    betas, best, rounds = [], [], 0
    for k in range(1, settings.rounds + 1):
        if calls + p > budget:
            break
        rng = np.random.default_rng([int(resolved.seed) & 0xFFFFFFFF, request, k])
        seed = round_seed(resolved.seed, request, k)
        if settings.max_edits is not None and start is not None:
            free = edit_window(start, population, settings.max_edits, rng)
            pinned, source = np.broadcast_to(start, free.shape), "--max-edits"
        elif settings.renoise_positions:
            free, pinned, source = random_positions(population.shape, settings.renoise, rng), population, "--renoise"
        else:
            free = None
        if free is not None:  # in-fill of the free positions (from noise), the others pinned
            again = replace(resolved, seed=seed, steps=steps, start=None, start_at=1.0,
                            template=_member_template(resolved.template, pinned, free, source))
        else:  # every member re-noised to diffusion time `renoise`
            again = replace(resolved, seed=seed, steps=steps, start_at=settings.renoise,
                            start=Template(population, np.ones_like(population, dtype=bool), "population"))
        children = _draw(sm, again, label_row, p)
        child_predictions, child_values = value(children)
        calls, network = calls + p, network + p * steps
        archive.add(children, child_values, child_predictions)
        pool_values = np.concatenate([values, child_values])
        weights, beta = tempered_weights(pool_values, settings.ess * p)
        keep = systematic_resample(weights, p, rng)
        population = np.concatenate([population, children])[keep]
        pop_predictions = np.concatenate([pop_predictions, child_predictions])[keep]
        values = pool_values[keep]
        betas.append(beta)
        best.append(float(archive.values[0]))
        rounds = k
        if on_round is not None:
            on_round(k, best[-1])
    return Search(archive, values, calls, network, rounds, betas, best)


def _draw(sm, resolved, label_row: np.ndarray | None, count: int) -> np.ndarray:
    """``count`` sequences ``uint8 [count, L]`` of one request (rules enforced by in-fill, as d3 sample)."""
    return np.concatenate([tokens for _, tokens, _ in sm.iter_samples(label_row, count, resolved=resolved)])


def _member_template(template: Template | None, pinned: np.ndarray, free: np.ndarray, source: str) -> Template:
    """One template row per member: every position outside ``free [P, L]`` pinned to ``pinned [P, L]`` (the start
    letters with ``--max-edits``, the member's own with a fraction of positions), and the request's ``template``
    (its known letters win)."""
    known = ~free
    tokens = np.where(known, pinned, 0).astype(np.uint8)
    if template is not None:
        known_user = np.broadcast_to(template.known, known.shape)
        tokens = np.where(known_user, np.broadcast_to(template.tokens, known.shape), tokens)
        known = known | known_user
    return Template(tokens, known, source)
