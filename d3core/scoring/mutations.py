"""Single-base substitution scan: the change of the bound for every one-base variant of a sequence (variant effects).

For a reference ``x [L]`` and each position i and base b != x_i, ``delta[b, i] = bound(x with x_i = b) - bound(x)``
in nats (0 at the reference base): positive = the substitution makes the sequence *less* likely under the model
(about ``log p(ref) - log p(variant)``). The ``3 L + 1`` sequences are scored with the same draws (common random
numbers, :mod:`d3core.scoring.estimator`: one key for all), so each difference's standard error comes from its paired
draws and is far smaller than the error of either bound.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from d3core.scoring.scores import DEFAULT_SAMPLES, LikelihoodScores, check_tokens, score_with_keys
from d3core.scoring.stats import stratified_mean_stderr

BASES = "ACGT"


@dataclass
class MutationScan:
    """Result of :func:`score_mutations`.

    Attributes:
        reference: ``[L]`` uint8 tokens of the scanned sequence.
        reference_scores: its :class:`LikelihoodScores` (one row).
        delta, delta_stderr: ``[4, L]`` nats, rows A, C, G, T; 0 (and 0 error) at the reference base.
    """

    reference: np.ndarray
    reference_scores: LikelihoodScores
    delta: np.ndarray
    delta_stderr: np.ndarray

    @property
    def length(self) -> int:
        return int(self.reference.shape[0])

    def strongest(self, n: int = 5) -> list[tuple[int, str, str, float, float]]:
        """The ``n`` substitutions that raise the bound most: ``(position from 1, ref base, alt base, delta, SE)``."""
        order = np.argsort(-self.delta, axis=None, kind="stable")[:n]
        out = []
        for flat in order:
            base, position = divmod(int(flat), self.length)
            out.append((position + 1, BASES[int(self.reference[position])], BASES[base],
                        float(self.delta[base, position]), float(self.delta_stderr[base, position])))
        return out


def variants_of(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every single-base substitution of ``reference [L]``: ``(tokens [3L, L], base [3L], position [3L])``."""
    reference = np.asarray(reference, dtype=np.uint8)
    length = reference.shape[0]
    position = np.repeat(np.arange(length), 4)
    base = np.tile(np.arange(4), length)
    keep = base != reference[position]
    position, base = position[keep], base[keep]
    tokens = np.repeat(reference[None], len(position), axis=0)
    tokens[np.arange(len(position)), position] = base
    return tokens, base, position


def score_mutations(model, tokens, labels=None, *, unconditional: bool = False, samples: int = DEFAULT_SAMPLES,
                    seed: int = 0, batch_size: int | None = None, progress: bool = False) -> MutationScan:
    """Scan every single-base substitution of one sequence ``tokens [L]`` (arguments as :func:`score_sequences`;
    ``labels [C]`` are the condition of all variants). Costs ``(3 L + 1) * samples`` network rows."""
    reference = check_tokens(tokens, model.length)
    if reference.shape[0] != 1:
        raise ValueError(f"score_mutations scans one sequence; got {reference.shape[0]}")
    reference = reference[0].astype(np.uint8)
    variants, base, position = variants_of(reference)
    everything = np.concatenate([reference[None], variants])
    if labels is not None:
        labels = np.asarray(labels, dtype=np.float32)
        labels = labels.reshape(-1) if model.label_mode != "per_position" else labels.reshape(model.length, -1)
    from d3core.scoring.estimator import sequence_keys

    keys = np.repeat(sequence_keys(reference[None]).numpy(), len(everything))  # every variant shares the draws
    scores = score_with_keys(model, everything, labels, keys=keys, unconditional=unconditional, samples=samples,
                             seed=seed, batch_size=batch_size, progress=progress)
    diff, diff_se = stratified_mean_stderr(scores.draws[1:] - scores.draws[:1])
    delta = np.zeros((4, reference.shape[0]), np.float64)
    delta_se = np.zeros_like(delta)
    delta[base, position], delta_se[base, position] = diff, diff_se
    first = LikelihoodScores.from_draws(scores.draws[:1], reference.shape[0], seed=seed, unconditional=unconditional)
    return MutationScan(reference=reference, reference_scores=first, delta=delta, delta_stderr=delta_se)
