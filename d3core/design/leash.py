"""The naturalness leash: designs must stay likely under the model (spec §5, "reward hacking").

Every design is scored with the SEDD bound on ``-log p(x | c)`` (:func:`d3core.scoring.score_sequences`, bits per
base, lower = more likely). With ``--min-likelihood`` a design whose bound is above the threshold (less likely than
allowed) is rejected and drawn again -- the same row with the random numbers of attempt ``a`` (seed
``seed + ATTEMPT_SEED_STRIDE * a``), so a rejected design is replaced reproducibly and independently of the batch
size -- up to ``attempts`` times; one that never passes keeps its most likely draw and is flagged (``leash = 0``).

The threshold is a number of bits per base, or ``pN``: the likelihood of the N-th percentile of the dataset's
validation sequences (each scored with its own measured labels), i.e. the (100 - N)-th percentile of their bits per
base: ``p5`` lets a design be as unlikely as the least likely 5 % of real sequences, no more.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from d3core.errors import D3UserError

ATTEMPT_SEED_STRIDE = 1_000_003
#: validation sequences scored for a ``pN`` threshold
REFERENCE_ROWS = 512


@dataclass(frozen=True)
class Leash:
    """``threshold`` bits per base (designs above it are redrawn), ``attempts`` redraws at most, and where the
    threshold came from (``source``)."""

    threshold: float
    attempts: int = 4
    source: str = ""


def parse_threshold(spec: str) -> tuple[float | None, float | None]:
    """``"1.9"`` -> ``(1.9, None)`` (bits per base); ``"p5"`` -> ``(None, 5.0)`` (a percentile of real sequences)."""
    text = str(spec).strip().lower()
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", text)
    if match:
        percentile = float(match.group(1))
        if not 0 < percentile < 100:
            raise D3UserError(f"--min-likelihood {spec}: the percentile must be between 0 and 100 (e.g. p5)")
        return None, percentile
    try:
        value = float(text)
    except ValueError:
        raise D3UserError(f"--min-likelihood {spec!r}: give bits per base (e.g. 1.95) or pN, the N-th percentile "
                          "of the dataset's validation sequences (e.g. p5)") from None
    if not (math.isfinite(value) and value > 0):
        raise D3UserError(f"--min-likelihood {spec}: bits per base must be > 0 (2 = a uniform random sequence)")
    return value, None


def reference_scores(sm, *, samples: int, seed: int, data=None, limit: int = REFERENCE_ROWS):
    """``(bits per base [n] of validation sequences under their measured labels, their tokens, labels)``."""
    from d3core.scoring import score_sequences
    from d3core.scoring.inputs import read_split

    real = read_split(sm, "valid", data=data, limit=limit)
    labels = real.labels if sm.num_labels else None
    scores = score_sequences(sm, real.tokens, labels, samples=samples, seed=seed)
    return scores.bits_per_base, real.tokens, real.labels


def make_leash(sm, spec: str, *, samples: int, seed: int, attempts: int = 4, data=None,
               reference: np.ndarray | None = None) -> Leash:
    """The :class:`Leash` of ``--min-likelihood spec`` (``reference``: validation bits per base, if already
    scored)."""
    value, percentile = parse_threshold(spec)
    if value is not None:
        return Leash(value, attempts, f"{value:g} bits per base")
    if reference is None:
        reference = reference_scores(sm, samples=samples, seed=seed, data=data)[0]
    threshold = float(np.percentile(reference, 100 - percentile))
    return Leash(threshold, attempts, f"p{percentile:g}: the likelihood of the {percentile:g}th percentile of "
                                      f"{len(reference)} validation sequences ({threshold:.4f} bits per base)")
