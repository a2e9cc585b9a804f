"""Measurements of designs beside their objective: a judge oracle's predictions and naturalness.

Guarding against reward hacking (spec §5): judge designs with an oracle that did not guide them, and report how much
they look like real DNA -- k-mer spectrum distance to real high-activity sequences (Jensen-Shannon, base 2) and
identity to the nearest training sequence (memorisation) -- beside the activity.
"""
from __future__ import annotations

import numpy as np

from d3core.design.driver import DesignSet, oracle_name


def add_judge(designs: DesignSet, judge) -> None:
    """Add the judge's predictions as columns ``judge:<label>`` and name the judge in the metadata; when the judge's
    labels cover the designs' objective (metadata ``objective``), also ``judge:objective``, the objective under it."""
    from d3core.design.objective import parse_objective

    predictions = np.asarray(judge.predict(designs.tokens.astype(np.int64)), dtype=np.float64)
    for i, name in enumerate(judge.label_names):
        designs.columns[f"judge:{name}"] = predictions[:, i]
    objective = designs.metadata.get("objective")
    if objective is not None and set(parse_objective(objective, designs.prediction_names).names) <= set(
            judge.label_names):
        designs.columns["judge:objective"] = parse_objective(objective, judge.label_names, what="the judge's "
                                                             "objective")(predictions)
    designs.metadata["judge"] = oracle_name(judge)


def kmer_distance(tokens: np.ndarray, reference: np.ndarray, k: int = 3) -> float:
    """Jensen-Shannon distance (base 2) between the k-mer spectra of ``tokens`` and ``reference`` ``[N, L]``."""
    from d3core.evaluation.metrics import js_distance_base2, kmer_spectrum

    return float(js_distance_base2(kmer_spectrum(tokens, k), kmer_spectrum(reference, k)))


def nearest_identity(tokens: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``[N]`` fraction of positions identical to the nearest reference sequence (1 = a copy)."""
    from d3core.evaluation.metrics import max_identity

    return np.asarray(max_identity(tokens, reference), dtype=np.float64)
