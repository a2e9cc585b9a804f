"""Guided design from a checkpoint: chunked, seeded runs of the one sampler with an SVDD or SMC transition, or a
population search per request (``evolve``, :mod:`d3core.design.evolve`).

::

    from d3core.design import DesignSettings, design
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation import SamplingModel

    sm = SamplingModel.load("run/checkpoints/last.ckpt")
    oracle = load_oracle("data.oracle.ckpt", device=sm.device)
    designs = design(sm, oracle, "dev - hk", sm.parse_labels(["dev=2,hk=0"]), num=100,
                     settings=DesignSettings(method="svdd", candidates=8), seed=0)
    designs.objective        # [100] float64, the objective of the oracle's prediction of each design

The sampling options (labels, guidance, template, steps, predictor, precision, batch size, seed) are those of
``d3 sample`` (:class:`d3core.generation.sampling_model.SamplingOptions`); design i draws from ``(seed, i)`` and its candidate or
particle k from ``(seed, i, k)``, so a design does not depend on the batch size, and ``--candidates 1`` (or
``--method none``) gives exactly the sequences of ``d3 sample`` with the same seed.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterator

import numpy as np

from d3core.design.evolve import EvolveSettings, describe_edits, pareto_front, search
from d3core.design.leash import ATTEMPT_SEED_STRIDE, Leash
from d3core.design.methods import DEFAULT_METHOD, METHODS
from d3core.design.objective import Objective, parse_objective
from d3core.design.smc import SMCTransition
from d3core.design.svdd import SVDDTransition
from d3core.design.values import OracleValue, check_estimate
from d3core.errors import D3UserError
from d3core.generation.templates import Template
from d3core.predictors import predictor_names

#: designs per chunk: the network sees candidates x this many rows per call
DEFAULT_DESIGN_BATCH = 32


@dataclass
class DesignSettings:
    """How to steer: ``method`` (a name of :data:`d3core.design.methods.METHODS`: ``svdd``, ``smc``, ``evolve`` --
    :mod:`d3core.design.evolve` -- or ``none``), ``candidates`` (M of SVDD, K particles of SMC),
    ``temperature`` (alpha: SVDD's selection softmax, 0 = the best; SMC's weights, > 0), ``estimate`` (the denoised
    estimate the oracle values: ``mean`` = posterior mean one-hot, ``mode`` = most likely letters)."""

    method: str = DEFAULT_METHOD
    candidates: int = 8
    temperature: float | None = None
    estimate: str = "mean"

    def checked(self) -> "DesignSettings":
        method = str(self.method).lower()
        if method not in METHODS:
            raise D3UserError(f"--method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.candidates < 1:
            raise D3UserError(f"--candidates {self.candidates}: must be at least 1")
        temperature = self.temperature
        if temperature is None:
            temperature = 0.1 if method == "smc" else 0.0
        if temperature < 0 or (method == "smc" and temperature == 0):
            raise D3UserError(f"--temperature {temperature:g}: must be >= 0 for svdd and > 0 for smc")
        return DesignSettings(method, int(self.candidates) if METHODS[method].draws else 1, float(temperature),
                              check_estimate(self.estimate))


@dataclass
class DesignChunk:
    """One chunk of finished designs: ``start`` (index of the first in the whole design set), ``tokens uint8 [b, L]``,
    the conditioning
    ``labels [b, C] | None``, the oracle's ``predictions float32 [b, K]`` and the ``objective float64 [b]``;
    ``columns``: the likelihood bound (``bits_per_base``, ``bits_per_base_stderr``) and the leash's verdict
    (``leash``: 1 passed, 0 failed every attempt; ``attempts``) when measured."""

    start: int
    tokens: np.ndarray
    labels: np.ndarray | None
    predictions: np.ndarray
    objective: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    #: ``int64 [b]``: the designs' indices in the whole design set (default ``start ..``)
    index: np.ndarray | None = None

    def __post_init__(self):
        if self.index is None:
            self.index = np.arange(self.start, self.start + len(self.tokens), dtype=np.int64)


@dataclass
class DesignSet:
    """Designs and what was measured on them (arrays have one row per design)."""

    tokens: np.ndarray
    labels: np.ndarray | None
    label_names: list[str]
    predictions: np.ndarray
    prediction_names: list[str]
    objective: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    #: extra per-design columns (likelihood, judge predictions, ...): name -> float array [N]
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    #: each design's index in the whole design set (``d3_design_<i>``; gaps where a synthesis rule left one out, or
    #: outside a ``--shard``); None: 0 .. N - 1
    index: np.ndarray | None = None
    #: what :func:`design` was asked (the report re-runs it without guidance); None for designs read from a file
    request: "DesignRequest | None" = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def ids(self) -> np.ndarray:
        """``int64 [N]``: :attr:`index`, or 0 .. N - 1."""
        return np.arange(len(self), dtype=np.int64) if self.index is None else np.asarray(self.index, np.int64)


@dataclass(frozen=True)
class DesignRequest:
    """What :func:`design` was asked, kept on the :class:`DesignSet` it returns: the model ``sm``, the guiding
    ``oracle``, the ``objective``, ``label_rows [R, C]`` (None: unconditional), ``num`` designs per row, the
    ``resolved`` sampling options (:class:`d3core.generation.sampling_model.SamplingOptions`) and the likelihood
    draws per design."""

    sm: Any
    oracle: Any
    objective: Objective
    label_rows: np.ndarray | None
    num: int
    resolved: Any
    likelihood_samples: int

    def plain(self) -> "DesignSet":
        """The same request sampled without guidance (``--method none``, same seed and options): the baseline the
        designs are measured against."""
        return design(self.sm, self.oracle, self.objective, self.label_rows, self.num,
                      settings=DesignSettings(method="none"), resolved=self.resolved,
                      likelihood_samples=self.likelihood_samples)


def design_count(sm, label_rows: np.ndarray | None, num: int, resolved, *, starts: Template | None = None) -> int:
    """How many designs a request makes in all (every shard together): ``num`` per label row (checked by
    :meth:`SamplingModel.plan_rows`), or ``num`` per start sequence (``--method evolve --start-from``)."""
    total = sm.plan_rows(label_rows, num, resolved)[1]
    return total if starts is None else num * len(starts)


def make_transition(settings: DesignSettings, sm, value: OracleValue, steps: int, predictor: str):
    """The sampler transition of ``settings`` (None for ``none`` and for one candidate: plain sampling); a guided
    transition steers the model's steps, so it takes only a predictor that calls the model."""
    if settings.method == "none" or settings.candidates == 1:
        return None
    if predictor not in predictor_names(calls_model=True):
        raise D3UserError(f"--predictor {predictor}: --method {settings.method} steers the model's steps; use one of "
                          f"{', '.join(predictor_names(calls_model=True))}")
    if settings.method == "svdd":
        return SVDDTransition(sm.graph, sm.noise, value, candidates=settings.candidates,
                              temperature=settings.temperature, estimate=settings.estimate)
    return SMCTransition(sm.graph, sm.noise, value, predictor=predictor, steps=steps, particles=settings.candidates,
                         temperature=settings.temperature, estimate=settings.estimate)


def check_oracle(sm, oracle) -> None:
    if int(oracle.length) != int(sm.length):
        raise D3UserError(f"the oracle {getattr(oracle, 'path', '') or ''} scores {oracle.length} bp sequences but "
                          f"{sm.checkpoint} makes {sm.length} bp; use an oracle trained on the model's data")


class _Rows:
    """Rows ``first .. stop - 1`` of a design set, in the shape :meth:`SamplingModel.iter_samples` takes a shard."""

    def __init__(self, first: int, stop: int):
        self.first, self.stop = int(first), int(stop)

    def rows(self, total: int) -> tuple[int, int]:
        return self.first, self.stop


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted row indices -> ``[(first, stop), ...]`` runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in (int(r) for r in rows):
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs


def iter_designs(sm, oracle, objective: Objective | str, label_rows: np.ndarray | None, num: int, *,
                 settings: DesignSettings | None = None,
                 on_step: Callable[[int, int, float | None], None] | None = None, resolved=None,
                 likelihood_samples: int = 0, leash: Leash | None = None, shard=None,
                 **options) -> Iterator[DesignChunk]:
    """Yield :class:`DesignChunk` s of ``num`` designs per label row (see the module docstring); with ``shard``
    (:class:`d3core.generation.shards.Shard`) only that shard's designs, exactly as the whole run draws them.

    ``on_step(done, total, value)``: after every predictor step, the sequence-steps done and in all, and the mean
    value of the chunk's current designs (None for plain sampling). ``options``: sampling options of
    :meth:`SamplingModel.resolve` (``batch_size`` = designs per chunk, default :data:`DEFAULT_DESIGN_BATCH`).
    ``likelihood_samples`` > 0 scores every design's likelihood bound with that many draws of t; ``leash``
    (:mod:`d3core.design.leash`) redraws designs below its likelihood threshold.
    """
    settings = (settings or DesignSettings()).checked()
    check_oracle(sm, oracle)
    if isinstance(objective, str):
        objective = parse_objective(objective, oracle.label_names)
    options.setdefault("batch_size", DEFAULT_DESIGN_BATCH)
    resolved = resolved or sm.resolve(**options)
    value = OracleValue(oracle, objective)
    transition = make_transition(settings, sm, value, resolved.steps, resolved.predictor)

    def step_progress(done: int, total: int) -> None:
        if on_step is not None:
            last = getattr(transition, "last_values", None)
            on_step(done, total, None if last is None else float(last.mean()))

    if leash is not None and likelihood_samples < 2:
        likelihood_samples = 16
    unconditional = resolved.guidance == 0.0 and sm.num_labels > 0

    def bits_per_base(tokens, labels) -> tuple[np.ndarray, np.ndarray]:
        return _bits_per_base(sm, tokens, labels, likelihood_samples, resolved.seed, unconditional)

    def redraw(rows: np.ndarray, attempt: int) -> np.ndarray:
        """Tokens ``[len(rows), L]`` of design rows ``rows`` (sorted) drawn again with attempt ``attempt``'s seed."""
        again = replace(resolved, seed=resolved.seed + ATTEMPT_SEED_STRIDE * attempt)
        parts = []
        for first, stop in _runs(rows):
            parts += [t for _, t, _ in sm.iter_samples(label_rows, num, shard=_Rows(first, stop), resolved=again,
                                                       transition=transition)]
        return np.concatenate(parts)

    offset = shard.rows(design_count(sm, label_rows, num, resolved))[0] if shard is not None else 0
    for start, tokens, labels in sm.iter_samples(label_rows, num, shard=shard, resolved=resolved,
                                                 on_step=step_progress, transition=transition):
        start += offset  # the index in the whole design set
        columns = {}
        if likelihood_samples:
            bpb, stderr = bits_per_base(tokens, labels)
            if leash is not None:
                tokens, bpb, stderr, columns = _enforce(leash, start, tokens, labels, bpb, stderr, bits_per_base,
                                                        redraw)
            columns = {"bits_per_base": bpb, "bits_per_base_stderr": stderr, **columns}
        predictions = np.asarray(oracle.predict(tokens.astype(np.int64)), dtype=np.float32)
        columns.update(sequence_columns(tokens, oracle))
        values = objective(predictions, first=start, unit="design")
        yield DesignChunk(start, tokens, labels, predictions, values, columns)


def sequence_columns(tokens: np.ndarray, guide) -> dict[str, np.ndarray]:
    """Per-design columns beside the activity: ``gc`` (fraction), ``longest_homopolymer`` (bases), and for an
    ensemble guide ``guide_sd:<label>`` (the members' disagreement, :class:`d3core.design.guides.Guide`)."""
    from d3core.generation.constraints import gc_fraction, longest_homopolymer

    columns = {"gc": gc_fraction(tokens), "longest_homopolymer": longest_homopolymer(tokens).astype(np.float64)}
    if len(getattr(guide, "members", ())) > 1:
        spread = guide.spread(tokens.astype(np.int64))
        columns.update({f"guide_sd:{name}": spread[:, i] for i, name in enumerate(guide.label_names)})
    return columns


def iter_evolved(sm, oracle, objective: Objective, label_rows: np.ndarray | None, num: int, settings: EvolveSettings,
                 *, resolved, starts: Template | None = None, likelihood_samples: int = 0, leash: Leash | None = None,
                 searched: dict | None = None, on_round=None, judge=None,
                 requests_range: tuple[int, int] | None = None) -> Iterator[DesignChunk]:
    """Yield one :class:`DesignChunk` per request of a population search (:mod:`d3core.design.evolve`): ``num``
    designs from its archive -- the best by objective (with ``leash``: those within it first, flagged ``leash``) or,
    with ``settings.pareto``, the archive's front of objective against bits per base (and against ``judge``'s
    objective when a judge oracle is given: the front of three axes).

    Requests: the rows of ``label_rows``, or (``starts``, ACGT only) every start sequence in file order, with one
    label row for all or one per start; with ``requests_range`` ``(first, stop)`` only those requests (a shard: each
    request's search is seeded by its index, so its designs do not depend on the others). Design ``i`` of request
    ``r`` is number ``r * num + i`` of the whole set (with ``pareto``: numbered in order, fronts differ in size);
    a request whose archive holds fewer than ``num`` designs leaves the rest of its numbers out (``evolve.left_out``).
    ``searched`` receives the spend: ``oracle_calls`` (all requests), ``network_rows`` (sequences x predictor
    steps) and per request ``evolve`` facts (rounds, betas, best values).
    ``on_round(done, total, best)``: after every round."""
    settings = settings.checked_for(starts is not None)
    if starts is not None and not starts.known.all():
        raise D3UserError(f"--start-from {starts.source}: --method evolve needs whole start sequences (ACGT, no N)")
    if resolved.template is not None and len(resolved.template) != 1:
        raise D3UserError(f"--template {resolved.template.source}: --method evolve takes one template for all designs")
    label_plan, requests = sm.plan_rows(label_rows, 1, replace(resolved, template=None))
    if starts is not None:
        if label_plan is not None and requests not in (1, len(starts)):
            raise D3UserError(f"--start-from {starts.source}: {len(starts)} start sequences but {requests} label rows; "
                              "give one label row for all or one per start sequence")
        requests = len(starts)
    if settings.pareto and likelihood_samples < 2:
        raise D3UserError("--pareto needs each design's likelihood: give --likelihood-samples 2 or more")
    if leash is not None and likelihood_samples < 2:
        likelihood_samples = 16
    unconditional = resolved.guidance == 0.0 and sm.num_labels > 0
    judge_objective = None
    if settings.pareto and judge is not None:
        judge_objective = parse_objective(objective.text, judge.label_names, what="the judge's objective")

    def value(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        predictions = np.asarray(oracle.predict(tokens.astype(np.int64)), dtype=np.float32)
        return predictions, objective(predictions, unit="design")

    spend = {"oracle_calls": 0, "network_rows": 0, "evolve": {
        **asdict(settings), "child_steps": settings.steps_per_child(resolved.steps), "requests": [], "left_out": []}}
    if searched is not None:
        searched.update(spend)
    written = 0
    for r in range(*(requests_range or (0, requests))):
        row = None if label_plan is None else label_plan[[r if len(label_plan) > 1 else 0]]
        start = None if starts is None else starts.tokens[r if len(starts) > 1 else 0]
        found = search(sm, value, resolved, row, r, settings, capacity=max(8 * num, 2 * settings.population),
                       start=start, on_round=None if on_round is None else
                       lambda k, best, _r=r: on_round(_r * settings.rounds + k, requests * settings.rounds, best))
        archive = found.archive
        columns: dict[str, np.ndarray] = {}
        if likelihood_samples and (settings.pareto or leash is not None):
            bpb, stderr = _bits_per_base(sm, archive.tokens, _repeat(row, len(archive)), likelihood_samples,
                                         resolved.seed, unconditional)
            if settings.pareto:
                judged = None if judge_objective is None else \
                    judge_objective(np.asarray(judge.predict(archive.tokens.astype(np.int64)), np.float64))
                chosen = pareto_front(archive.values, bpb, judged)
            else:
                passed = bpb <= leash.threshold
                chosen = np.concatenate([np.flatnonzero(passed), np.flatnonzero(~passed)])[:num]
            columns = {"bits_per_base": bpb[chosen], "bits_per_base_stderr": stderr[chosen]}
            if leash is not None:
                columns["leash"] = (bpb[chosen] <= leash.threshold).astype(np.float64)
        else:
            chosen = np.arange(min(num, len(archive)))
            if likelihood_samples:
                bpb, stderr = _bits_per_base(sm, archive.tokens[chosen], _repeat(row, len(chosen)),
                                             likelihood_samples, resolved.seed, unconditional)
                columns = {"bits_per_base": bpb, "bits_per_base_stderr": stderr}
        tokens = archive.tokens[chosen]
        if start is not None:
            columns["edits"] = np.asarray(describe_edits(start, tokens), dtype=str)
            columns["edit_count"] = (tokens != start[None]).sum(axis=1).astype(np.float64)
        columns["request"] = np.full(len(tokens), float(r))
        columns.update(sequence_columns(tokens, oracle))
        spend["oracle_calls"] += found.oracle_calls
        spend["network_rows"] += found.network_rows
        spend["evolve"]["requests"].append({
            "oracle_calls": found.oracle_calls, "network_rows": found.network_rows, "rounds": found.rounds,
            "betas": found.betas, "best_by_round": found.best, "archive_best": float(archive.values[0]),
            "final_population_best": float(found.final_values.max()), "archive_size": len(archive)})
        if searched is not None:
            searched.update(spend)
        first = written if settings.pareto else r * num
        if not settings.pareto:
            spend["evolve"]["left_out"] += list(range(r * num + len(tokens), (r + 1) * num))
        yield DesignChunk(first, tokens, _repeat(row, len(tokens)), archive.predictions[chosen], archive.values[chosen],
                          columns)
        written += len(tokens)


def _repeat(row: np.ndarray | None, count: int) -> np.ndarray | None:
    """One request's label row ``[1, C]`` as ``[count, C]`` (None stays None)."""
    return None if row is None else np.repeat(row, count, axis=0)


def _bits_per_base(sm, tokens: np.ndarray, labels: np.ndarray | None, samples: int, seed: int,
                   unconditional: bool) -> tuple[np.ndarray, np.ndarray]:
    """The likelihood bound ``(bits per base [n], stderr [n])`` of ``tokens [n, L]`` under ``labels [n, C]``."""
    from d3core.scoring import score_sequences

    scores = score_sequences(sm, tokens, None if unconditional else labels, unconditional=unconditional,
                             samples=samples, seed=seed)
    return scores.bits_per_base, scores.bits_per_base_stderr


def _enforce(leash: Leash, start: int, tokens, labels, bpb, stderr, score, redraw):
    """Redraw the designs of one chunk whose bound is above the leash's threshold (see :mod:`d3core.design.leash`);
    returns ``(tokens, bits per base, stderr, {"leash": passed, "attempts": attempts})``."""
    tokens, bpb, stderr = tokens.copy(), bpb.copy(), stderr.copy()
    attempts = np.zeros(len(tokens), dtype=np.float64)
    for attempt in range(1, leash.attempts + 1):
        failing = np.nonzero(bpb > leash.threshold)[0]
        if not len(failing):
            break
        fresh = redraw(start + failing, attempt)
        fresh_bpb, fresh_stderr = score(fresh, None if labels is None else labels[failing])
        attempts[failing] = attempt
        better = fresh_bpb < bpb[failing]
        chosen = failing[better]
        tokens[chosen], bpb[chosen], stderr[chosen] = fresh[better], fresh_bpb[better], fresh_stderr[better]
    return tokens, bpb, stderr, {"leash": (bpb <= leash.threshold).astype(np.float64), "attempts": attempts}


def design(sm, oracle, objective: Objective | str, label_rows: np.ndarray | None, num: int, *,
           settings: DesignSettings | None = None, on_step=None,
           on_chunk: Callable[[DesignChunk], None] | None = None, resolved=None, likelihood_samples: int = 0,
           leash: Leash | None = None, evolve: EvolveSettings | None = None, starts: Template | None = None,
           shard=None, judge=None, **options) -> DesignSet:
    """All designs of :func:`iter_designs` (:func:`iter_evolved` for ``evolve``) in one :class:`DesignSet`, with
    the settings in its metadata; ``on_chunk(chunk)`` after every finished chunk. With ``shard``, that shard's
    designs (with ``evolve``: its share of the requests; not with ``pareto``), their indices in the whole set and the
    shard in the metadata (join the shards with :func:`d3core.design.shards.merge_designs`). ``judge``: with ``evolve`` and ``pareto``, the judge oracle whose
    objective is the front's third axis."""
    settings = (settings or DesignSettings()).checked()
    if isinstance(objective, str):
        objective = parse_objective(objective, oracle.label_names)
    options.setdefault("batch_size", DEFAULT_DESIGN_BATCH)
    resolved = resolved or sm.resolve(**options)
    started = time.perf_counter()
    chunks, searched = [], {}
    total = design_count(sm, label_rows, num, resolved, starts=starts)
    first_index = None if shard is None else shard.rows(total)[0]
    if settings.method == "evolve":
        evolve = evolve or EvolveSettings()
        span = None
        if shard is not None:
            if evolve.pareto:
                raise D3UserError(f"--shard {shard}: --pareto writes each request's whole front, whose size is not "
                                  "known in advance; run it in one process")
            span = shard.rows(total // num)  # whole requests: one population each
            first_index = span[0] * num
        found = iter_evolved(sm, oracle, objective, label_rows, num, evolve, resolved=resolved,
                             starts=starts, likelihood_samples=likelihood_samples, leash=leash, searched=searched,
                             on_round=on_step, judge=judge, requests_range=span)
    else:
        found = iter_designs(sm, oracle, objective, label_rows, num, settings=settings, on_step=on_step,
                             resolved=resolved, likelihood_samples=likelihood_samples, leash=leash, shard=shard)
    for chunk in found:
        chunks.append(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
    seconds = time.perf_counter() - started
    chunks, synthesis = _meeting_rules(chunks, resolved.rules)
    tokens = np.concatenate([c.tokens for c in chunks]) if chunks else np.zeros((0, sm.length), np.uint8)
    labels = None if not chunks or chunks[0].labels is None else np.concatenate([c.labels for c in chunks])
    predictions = (np.concatenate([c.predictions for c in chunks]) if chunks
                   else np.zeros((0, len(oracle.label_names)), np.float32))
    values = np.concatenate([c.objective for c in chunks]) if chunks else np.zeros(0)
    index = np.concatenate([c.index for c in chunks]) if chunks else np.zeros(0, np.int64)
    sharding = {} if shard is None else {"shard": {"index": shard.index, "count": shard.count},
                                         "first_index": first_index, "total": total}
    metadata = sm.metadata(**resolved.describe(), device=sm.device, design=asdict(settings),
                           objective=objective.text, oracle=oracle_name(oracle), seconds=seconds,
                           seconds_per_design=seconds / max(len(tokens), 1), likelihood_samples=likelihood_samples,
                           leash=None if leash is None else asdict(leash), synthesis=synthesis, **sharding,
                           **searched)
    columns = {name: np.concatenate([c.columns[name] for c in chunks]) for name in (chunks[0].columns if chunks
                                                                                    else {})}
    request = DesignRequest(sm, oracle, objective, label_rows, num, resolved, likelihood_samples)
    return DesignSet(tokens, labels, list(sm.label_names) if labels is not None else [], predictions,
                     list(oracle.label_names), values, metadata, columns, index, request)


def _meeting_rules(chunks: list[DesignChunk], rules) -> tuple[list[DesignChunk], dict | None]:
    """The chunks without the designs that still break a synthesis rule (after the sampler's in-fill redraws, and
    the leash's), and what was left out: ``{"rules", "failed", "failed_by_rule", "left_out"}`` (the indices of the
    designs left out; None without rules)."""
    if rules is None or not rules.active:
        return chunks, None
    kept, left_out, by_rule = [], [], {}
    for chunk in chunks:
        problems = rules.problems(chunk.tokens)
        keep = np.array([not p for p in problems], dtype=bool)
        for broken in problems:
            for rule in broken:
                by_rule[rule] = by_rule.get(rule, 0) + 1
        left_out += chunk.index[~keep].tolist()
        kept.append(DesignChunk(chunk.start, chunk.tokens[keep], None if chunk.labels is None else chunk.labels[keep],
                                chunk.predictions[keep], chunk.objective[keep],
                                {name: values[keep] for name, values in chunk.columns.items()}, chunk.index[keep]))
    return kept, {"rules": rules.as_dict(), "failed": len(left_out), "failed_by_rule": dict(sorted(by_rule.items())),
                  "left_out": left_out}


def oracle_name(oracle) -> str:
    """How a report names an oracle: its file, or its registered name, or its class."""
    path = getattr(oracle, "path", None)
    if path:
        return str(path)
    return str(getattr(oracle, "name", None) or type(oracle).__name__)
