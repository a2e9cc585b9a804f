"""Standard errors of stratified Monte Carlo estimates (one draw per stratum).

With one draw per stratum the within-stratum variance cannot be estimated from that stratum alone; the usual remedy
is to *collapse* neighbouring strata into groups (pairs, plus one triple when K is odd) and use the spread inside each
group (Cochran, *Sampling Techniques*, §5A.12). For strata of equal width and ``y_k`` the draw of stratum k::

    mean = (1/K) sum_k y_k
    Var(mean) ~ (1/K^2) sum_groups n_g/(n_g - 1) sum_{k in g} (y_k - mean_g)^2

which is slightly conservative (it also counts the change of the integrand between neighbouring strata).

For the mean over a set of sequences the same deviations are summed over the sequences that share their draws (one
*key*, :mod:`d3core.scoring.estimator`) before squaring: independent sequences add variances, sequences with shared
draws add their deviations draw by draw.
"""
from __future__ import annotations

import numpy as np


def _groups(k: int) -> np.ndarray:
    """Group index of each of ``k`` strata: pairs, the last three together when ``k`` is odd."""
    if k < 2:
        raise ValueError(f"a standard error needs at least 2 stratified draws, got {k}")
    group = np.arange(k) // 2
    if k % 2:
        group[-1] = group[-2]
    return group


def deviations(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``draws [..., K]`` -> ``(deviation from the group mean [..., K], weight n_g / (n_g - 1) [K])``."""
    draws = np.asarray(draws, dtype=np.float64)
    group = _groups(draws.shape[-1])
    size = np.bincount(group)
    means = np.stack([draws[..., group == g].mean(axis=-1) for g in range(len(size))], axis=-1)
    return draws - means[..., group], (size / (size - 1.0))[group]


def stratified_mean_stderr(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``draws [..., K]`` (stratum order, K >= 2) -> ``(mean [...], standard error [...])``."""
    draws = np.asarray(draws, dtype=np.float64)
    dev, weight = deviations(draws)
    return draws.mean(axis=-1), np.sqrt((weight * dev ** 2).sum(axis=-1)) / draws.shape[-1]


def set_mean_stderr(draws: np.ndarray, keys: np.ndarray | None = None) -> tuple[float, float]:
    """Mean over ``N`` sequences of their estimates and its standard error: ``draws [N, K]``; ``keys [N]`` mark the
    sequences that share draws (default: all independent)."""
    draws = np.asarray(draws, dtype=np.float64)
    n, k = draws.shape
    dev, weight = deviations(draws)
    if keys is not None:
        _, group = np.unique(np.asarray(keys), return_inverse=True)
        summed = np.zeros((int(group.max()) + 1, k))
        np.add.at(summed, group, dev)
        dev = summed
    return float(draws.mean()), float(np.sqrt((weight * dev ** 2).sum()) / (n * k))
