"""``d3 evaluate --reference-rows N``: compare distributions against N reference rows instead of all, and say what
that costs in precision.

:func:`stratified_rows` draws the N rows (seeded) stratified by measured activity, so the subset spans the activity
range as the whole split does; :func:`subsampling_se` is the standard error a metric gains from using N of the
``total`` rows: the standard deviation of the metric over bootstrap resamples of the N rows, times the finite
population correction ``sqrt(1 - N / total)`` (0 when every row is used).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: bootstrap resamples behind each standard error
BOOTSTRAP = 20


def stratified_rows(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` row indices of ``labels`` (``[R, C]`` activities, or ``[R, 0]``), sorted: the rows ordered by their mean
    activity are cut into ``n`` strata of (nearly) equal size and one row is drawn from each. All rows when
    ``n >= R``."""
    total = len(labels)
    if n >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    activity = labels.mean(axis=1) if labels.ndim == 2 and labels.shape[1] else rng.random(total)
    order = np.argsort(activity, kind="stable")
    edges = np.linspace(0, total, n + 1).astype(np.int64)
    picks = edges[:-1] + (rng.random(n) * (edges[1:] - edges[:-1])).astype(np.int64)
    return np.sort(order[picks])


def bootstrap_rows(n: int, seed: int = 0, draws: int = BOOTSTRAP) -> np.ndarray:
    """``int64 [draws, n]``: ``draws`` resamples (with replacement) of rows ``0..n-1``, seeded."""
    return np.random.default_rng(seed + 1).integers(0, n, (draws, n))


def standard_error(values, n: int, total: int) -> float:
    """The subsampling standard error from a metric's bootstrap values: their s.d. x ``sqrt(1 - n / total)``."""
    if n >= total:
        return 0.0
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan")
    return float(values.std(ddof=1) * np.sqrt(1 - n / total))


def subsampling_se(metric: Callable[[np.ndarray], float], n: int, total: int, seed: int = 0,
                   draws: int = BOOTSTRAP) -> float:
    """Standard error of ``metric(rows)`` (a figure computed from reference rows ``rows`` of ``0..n-1``) due to
    using ``n`` of ``total`` rows (:func:`bootstrap_rows`, :func:`standard_error`)."""
    if n >= total:
        return 0.0
    return standard_error([metric(rows) for rows in bootstrap_rows(n, seed, draws)], n, total)
