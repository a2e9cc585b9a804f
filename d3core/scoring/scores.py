"""``score_sequences``: the bound on ``-log p(x | labels)`` of given sequences under a trained model, with error bars.

::

    from d3core.generation import SamplingModel
    from d3core.scoring import score_sequences

    sm = SamplingModel.load("runs/x/checkpoints/last.ckpt")
    scores = score_sequences(sm, tokens, sm.parse_labels(["dev=2,hk=0"]))    # tokens [N, L] in 0..3
    scores.bits_per_base, scores.bits_per_base_stderr                           # [N], [N]
    scores.summary()                                                            # set mean with its error

Units: ``nats`` per sequence (natural log); ``bits_per_base = nats / (L ln 2)``; lower = more likely under the model.
The uniform model scores ``L ln 4`` nats (2 bits per base). See :mod:`d3core.scoring.estimator` for the method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from d3core.errors import D3UserError
from d3core.progress import progress_bar
from d3core.scoring.stats import set_mean_stderr, stratified_mean_stderr

DEFAULT_SAMPLES = 16
DEFAULT_BATCH_SIZE = 256


@dataclass
class LikelihoodScores:
    """Per-sequence bounds on ``-log p(x | c)`` (lower = more likely), with their Monte Carlo standard errors.

    Attributes:
        nats, nats_stderr: ``[N]`` the bound in nats per sequence and its standard error.
        bits_per_base, bits_per_base_stderr: ``[N]`` the same divided by ``L ln 2``.
        per_position: ``[N, L]`` nats per position (rows sum to ``nats``), or None when not asked for.
        samples: ``K``, the stratified draws of t per sequence; seed: the draws' seed; length: ``L``.
        draws: ``[N, K]`` the estimate of each draw (stratum order), from which set means and paired differences get
            their errors (:meth:`summary`, :meth:`difference`); keys: ``[N]`` the draws' keys (equal keys, shared
            draws).
        unconditional: scored under the learned null condition, ``-log p(x)``, instead of ``-log p(x | c)``.
    """

    nats: np.ndarray
    nats_stderr: np.ndarray
    bits_per_base: np.ndarray
    bits_per_base_stderr: np.ndarray
    per_position: np.ndarray | None
    samples: int
    seed: int
    draws: np.ndarray | None = None
    keys: np.ndarray | None = None
    length: int = 0
    unconditional: bool = False

    @classmethod
    def from_draws(cls, draws: np.ndarray, length: int, *, seed: int, keys: np.ndarray | None = None,
                   per_position: np.ndarray | None = None, unconditional: bool = False) -> "LikelihoodScores":
        """Scores from the draws ``[N, K]`` of :func:`d3core.scoring.estimator.bound_draws`."""
        nats, stderr = stratified_mean_stderr(draws)
        per_bit = 1.0 / (int(length) * math.log(2))
        return cls(nats=nats, nats_stderr=stderr, bits_per_base=nats * per_bit, bits_per_base_stderr=stderr * per_bit,
                   per_position=per_position, samples=int(draws.shape[1]), seed=int(seed), draws=draws,
                   keys=None if keys is None else np.asarray(keys, np.int64), length=int(length),
                   unconditional=bool(unconditional))

    def __len__(self) -> int:
        return int(self.nats.shape[0])

    def summary(self, rows=None) -> dict[str, Any]:
        """Mean over the sequences (or ``rows`` of them) with its standard error (from the per-stratum set means, so
        sequences that share draws are counted right): ``n``, ``samples``, ``mean_nats``, ``mean_nats_stderr``,
        ``mean_bits_per_base``, ``mean_bits_per_base_stderr``."""
        draws = self.draws if rows is None else self.draws[rows]
        keys = self.keys if rows is None or self.keys is None else self.keys[rows]
        mean, stderr = set_mean_stderr(draws, keys)
        per_bit = 1.0 / (self.length * math.log(2))
        return {"n": int(draws.shape[0]), "samples": self.samples, "mean_nats": float(mean),
                "mean_nats_stderr": float(stderr), "mean_bits_per_base": float(mean * per_bit),
                "mean_bits_per_base_stderr": float(stderr * per_bit)}

    def difference(self, other: "LikelihoodScores") -> tuple[np.ndarray, np.ndarray]:
        """``self - other`` per sequence in nats and its standard error, draw by draw (same seed, samples and N; the
        error is smallest when the pairs share their draws, as a mutation and its reference do)."""
        if (self.seed, self.samples, len(self)) != (other.seed, other.samples, len(other)):
            raise ValueError("paired differences need scores from the same seed, samples and number of sequences")
        return stratified_mean_stderr(self.draws - other.draws)


def score_sequences(model, tokens, labels=None, *, unconditional: bool = False, samples: int = DEFAULT_SAMPLES,
                    seed: int = 0, batch_size: int | None = None, per_position: bool = False,
                    progress: bool = False) -> LikelihoodScores:
    """The bound on ``-log p(x | labels)`` for every sequence of ``tokens`` under ``model``.

    Args:
        model: a :class:`d3core.generation.sampling_model.SamplingModel` (EMA weights, eval mode, its device).
        tokens: ``[N, L]`` int array or tensor of tokens 0..3 (A, C, G, T), L the model's length.
        labels: ``[N, C]`` float, or ``[C]`` for all sequences (``[N, L, C]`` / ``[L, C]`` for a per-position label
            model); None only with ``unconditional`` or for an unconditional model.
        unconditional: score ``-log p(x)`` under the learned null condition (a model trained with label dropout).
        samples: ``K >= 2`` stratified draws of t per sequence (the standard error falls with K).
        seed: the same seed gives the same numbers, whatever ``batch_size`` and wherever a sequence sits in ``tokens``.
        batch_size: most (sequence, draw) rows per network call (default 256); bounds memory.
        per_position: also return each position's contribution ``[N, L]``.
        progress: a progress bar (tqdm, on stderr).

    Raises:
        D3UserError: tokens of the wrong shape or out of range, labels that do not fit the model, an unconditional
            request to a model without a null condition.
    """
    return score_with_keys(model, tokens, labels, unconditional=unconditional, samples=samples, seed=seed,
                           batch_size=batch_size, per_position=per_position, progress=progress)


def score_with_keys(model, tokens, labels=None, *, keys=None, unconditional: bool = False,
                    samples: int = DEFAULT_SAMPLES, seed: int = 0, batch_size: int | None = None,
                    per_position: bool = False, progress: bool = False) -> LikelihoodScores:
    """:func:`score_sequences` with the draws' keys given (``[N]`` ints; default a hash of each sequence): sequences
    given one key share their draws (common random numbers for paired differences)."""
    import torch

    from d3core.scoring.estimator import bound_draws, sequence_keys

    x = check_tokens(tokens, model.length)
    null = check_unconditional(model, unconditional)
    rows = check_labels(model, labels, len(x), null)
    samples = check_samples(samples)
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise D3UserError(f"--batch-size {batch_size}: must be at least 1")
    keys = sequence_keys(x).numpy() if keys is None else np.asarray(keys, np.int64).reshape(len(x))
    bar = progress_bar(len(x), "d3 score", enabled=progress)
    try:
        draws, positions = bound_draws(
            model.model, model.graph, model.noise, torch.from_numpy(x),
            None if rows is None else torch.from_numpy(rows),
            samples=samples, seed=seed, keys=torch.from_numpy(keys),
            batch_size=batch_size, null=null, per_position=per_position,
            device=model.device, on_rows=lambda done: bar.update(done / samples - bar.n))
    finally:
        bar.close()
    return LikelihoodScores.from_draws(draws, x.shape[1], seed=seed, keys=keys, per_position=positions,
                                       unconditional=unconditional)


# ------------------------------------------------------------------------------------------------------- checks
def check_tokens(tokens, length: int) -> np.ndarray:
    """``tokens`` as int64 ``[N, L]`` in 0..3, else a :class:`D3UserError`."""
    if hasattr(tokens, "detach"):
        tokens = tokens.detach().cpu().numpy()
    x = np.asarray(tokens)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise D3UserError(f"sequences to score must be integer tokens [N, L]; got dtype {x.dtype}, shape {x.shape}")
    if x.shape[1] != int(length):
        raise D3UserError(f"sequences are {x.shape[1]} bp, but the model scores {length} bp sequences")
    if x.size and (x.min() < 0 or x.max() > 3):
        row, column = (int(v) for v in np.argwhere((x < 0) | (x > 3))[0])
        raise D3UserError(f"sequence {row}, position {column + 1}: token {int(x[row, column])}; tokens must be 0..3 "
                          "(A, C, G, T)")
    return x.astype(np.int64)


def check_samples(samples: int) -> int:
    samples = int(samples)
    if samples < 2:
        raise D3UserError(f"--samples {samples}: at least 2 draws of t are needed for a standard error")
    return samples


def check_unconditional(model, unconditional: bool) -> bool:
    """Whether the network is called with the null condition (``unconditional`` on a conditional model)."""
    if not unconditional or not model.num_labels:
        return False
    if not model.supports_guidance:
        raise D3UserError(f"--unconditional: {model.checkpoint} was trained without label dropout "
                          "(training.label_dropout=0), so it has no unconditional likelihood; score with labels, or "
                          "retrain with training.label_dropout=0.1 (the default for new runs)")
    return True


def check_labels(model, labels, n: int, null: bool) -> np.ndarray | None:
    """Labels as float32 ``[N, C]`` (``[N, L, C]`` for per-position models), or None for an unconditional model."""
    if not model.num_labels:
        if labels is not None and np.asarray(labels).size:
            raise D3UserError(f"{model.checkpoint}: the model is unconditional; drop the labels")
        return None
    per_position = model.label_mode == "per_position"
    if labels is None:
        if null:  # the null condition ignores the values
            shape = (n, model.length, model.num_labels) if per_position else (n, model.num_labels)
            return np.zeros(shape, np.float32)
        example = ",".join(f"{name}=1.0" for name in model.label_names)
        raise D3UserError(f"the model is conditioned on {', '.join(model.label_names)}: give labels (--labels "
                          f"{example}, or --labels-from test), or score unconditionally (--unconditional)")
    rows = np.asarray(labels, dtype=np.float32)
    want = 3 if per_position else 2
    if rows.ndim == want - 1:
        rows = np.broadcast_to(rows, (n, *rows.shape))
    if rows.ndim != want or rows.shape[-1] != model.num_labels or rows.shape[0] not in (1, n) or (
            per_position and rows.shape[1] != model.length):
        expected = f"[N, {model.length}, {model.num_labels}]" if per_position else f"[N, {model.num_labels}]"
        raise D3UserError(f"labels of shape {list(rows.shape)} for {n} sequence(s); the model takes {expected} "
                          f"({', '.join(model.label_names)})")
    return np.ascontiguousarray(rows) if rows.shape[0] == n else np.broadcast_to(rows, (n, *rows.shape[1:])).copy()


