"""Attribution maps and what the paper measures on them (spec §9.9-9.13).

- :func:`gradient_shap`: captum's GradientShap of one oracle output over one-hot input, with random one-hot
  backgrounds, then the gradient correction (Majdandzic et al. 2022: subtract the mean over the 4 nucleotides at
  each position). Returns ``float32 [N, L, 4]``.
- :func:`attribution_consistency`: the paper's KLD "entropic information" of a set of maps (§9.10; higher = the
  maps share more structure, e.g. the same motifs). Re-implemented, vectorised, from the definition of
  ``Evaluation/D3_analysis/consistency.py``, with its constants (pi taken as 3.1416, 31 bins of 0.1 rad on each
  angle, a (2 x 3)^2 prior window from -3 to +2 bins, interior bins only, rounded to 3 decimals) and its projection
  (whose second axis omits G), so that values compare with the published ones.
- :func:`mechanistic_diversity`: per map, the largest dot product with another map of the set (§9.13).

Needs the ``motifs`` extra for captum (``pip install 'd3core[motifs]'``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from d3core.evaluation.extras import require

#: the original's value of pi (``PI = 3.1416``) and its angular bin width
PI = 3.1416
BOX_LENGTH = 0.1


def random_backgrounds(n: int, length: int, *, letters: int = 3, seed: int = 0) -> np.ndarray:
    """``n`` random one-hot sequences ``float32 [n, 4, length]``, each position drawn uniformly from the first
    ``letters`` bases (the original draws ``randint(0, 3)``: A, C or G only; 4 = every base)."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, letters, size=(n, length))
    return np.ascontiguousarray(np.eye(4, dtype=np.float32)[index].transpose(0, 2, 1))


def gradient_shap(oracle, tokens: np.ndarray, target: int, *, backgrounds: int = 1000, samples: int = 100,
                  stdev: float = 0.1, background_letters: int = 3, batch_size: int = 16, seed: int = 0,
                  on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Gradient-corrected GradientShap attributions ``float32 [N, L, 4]`` of output ``target`` of ``oracle`` (an
    :class:`~d3core.evaluation.oracle.Oracle`) for tokens ``[N, L]``.

    Settings of the paper: 1000 backgrounds, 100 samples per sequence, input noise s.d. 0.1, backgrounds over A/C/G.
    ``on_batch(n)`` is called after each batch of ``n`` sequences (progress bars). The same seed and batch size give
    the same maps.
    """
    import torch

    captum_attr = require("captum.attr", "attribution maps (GradientShap)")
    tokens = np.asarray(tokens)
    n, length = tokens.shape
    device = oracle.device
    base = torch.from_numpy(random_backgrounds(backgrounds, length, letters=background_letters, seed=seed)).to(device)
    network = oracle.network.eval()
    explainer = captum_attr.GradientShap(network)
    out = np.empty((n, length, 4), dtype=np.float32)
    for start in range(0, n, batch_size):
        # captum draws the baselines, interpolation points (numpy's global generator) and noise (torch's) per batch:
        # seeded per batch, the same seed and batch size give the same maps
        torch.manual_seed(seed + start)
        np.random.seed(seed + start)
        x = torch.from_numpy(np.eye(4, dtype=np.float32)[tokens[start:start + batch_size].astype(np.int64)]
                             .transpose(0, 2, 1).copy()).to(device).requires_grad_(True)
        grad = explainer.attribute(x, baselines=base, n_samples=samples, stdevs=stdev, target=int(target))
        grad = grad.detach().float().cpu().numpy()
        grad -= grad.mean(axis=1, keepdims=True)  # gradient correction over the 4 channels
        out[start:start + len(x)] = grad.transpose(0, 2, 1)
        if on_batch:
            on_batch(len(x))
    return out


def consistency_coordinates(attributions: np.ndarray, window: int = 3) -> np.ndarray:
    """The original's ``process_attribution_map``: gradient correction, division by the sum over positions of the
    per-position L2 norms, the sum of ``window`` shifted copies (``np.roll`` by 0, -1, ..., position axis), and the
    projection to its 3-D coordinates. ``[N, L, 4]`` -> ``[N, L, 3]``."""
    a = np.asarray(attributions, np.float64)
    a = a - a.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # an all-zero map gives NaN, set to 0 below (as the original)
        a = a / np.sqrt((a * a).sum(axis=-1, keepdims=True)).sum(axis=-2, keepdims=True)
    summed = sum(np.roll(a, -shift, axis=-2) for shift in range(window))
    x, y, z, w = (summed[..., i] for i in range(4))
    e1 = (-x + y) / np.sqrt(2)
    e2 = np.sqrt(2 / 3) * (-x / 2 - y / 2)
    e3 = np.sqrt(3 / 4) * (-(x + y + z) / 3 + w)
    return np.stack([e1, e2, e3], axis=-1)


def _angles(points: np.ndarray, radius_count_cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The original's ``spherical_coordinates_process_2_trad`` (unit mask): keep the points whose radius exceeds the
    ``int(cutoff * N * L)``-th largest, then two angles in [0, pi] and the radii."""
    flat = np.nan_to_num(points.reshape(-1, 3))
    r = np.sqrt((flat * flat).sum(axis=1))
    count = int(radius_count_cutoff * (flat.shape[0] * 4) / 4)  # the original's int(cutoff * prod([N, L, 4]) / 4)
    keep = r > np.sort(r)[-count]
    e1, e2, e3 = flat[keep, 0], flat[keep, 1], flat[keep, 2]
    r = r[keep]
    x, y, z = e2, e3, e1  # the original's axis rotation
    with np.errstate(divide="ignore", invalid="ignore"):
        phi_1 = np.arctan(y / x)
        phi_1 = np.where((x < 0) & (y >= 0), np.arctan(y / x) + PI, phi_1)
        phi_1 = np.where((x < 0) & (y < 0), np.arctan(y / x) - PI, phi_1)
        phi_1 = np.where(x == 0, PI / 2, phi_1)
        phi_1 = phi_1 / 2 + PI / 2
        phi_2 = np.arccos(z / r)
    return phi_1, phi_2, r


def attribution_consistency(attributions: np.ndarray, *, radius_count_cutoff: float = 0.10,
                            box_length: float = BOX_LENGTH, prior_range: int = 3, window: int = 3) -> float:
    """The paper's attribution consistency (KLD, nats; §9.10) of maps ``[N, L, 4]``: the r^2-weighted 2-D
    histogram of the two angles of the strongest points against a local-average prior, over interior bins, times the
    bin area, rounded to 3 decimals. ``radius_count_cutoff`` 0.10 is the paper notebook's (0.04 the code default)."""
    phi_1, phi_2, r = _angles(consistency_coordinates(attributions, window), radius_count_cutoff)
    n_bins = int(PI / box_length)
    box_volume = box_length * box_length
    if len(r) == 0:
        return float("nan")
    k = np.minimum((phi_1 / box_length).astype(np.int64), n_bins - 1)
    l_ = np.minimum((phi_2 / box_length).astype(np.int64), n_bins - 1)
    counts = np.zeros((n_bins, n_bins))
    np.add.at(counts, (k, l_), r * r)
    pdf = counts / counts.sum() / box_volume
    # prior: mean of the pdf over bins (i + di, j + dj), di, dj in [-prior_range, prior_range), inside 1..n_bins-1
    valid = np.zeros((n_bins, n_bins))
    valid[1:, 1:] = 1.0
    padded_pdf = np.pad(pdf * valid, prior_range)
    padded_valid = np.pad(valid, prior_range)
    total = np.zeros_like(pdf)
    number = np.zeros_like(pdf)
    for di in range(-prior_range, prior_range):
        for dj in range(-prior_range, prior_range):
            rows = slice(prior_range + di, prior_range + di + n_bins)
            cols = slice(prior_range + dj, prior_range + dj + n_bins)
            total += padded_pdf[rows, cols]
            number += padded_valid[rows, cols]
    interior = np.zeros((n_bins, n_bins), dtype=bool)
    interior[1:n_bins - 1, 1:n_bins - 1] = True
    use = interior & (pdf > 0) & (number > 0)
    prior = np.where(use, total / np.maximum(number, 1), 1.0)
    use &= prior > 0
    angle_ok = np.sin(np.arange(n_bins) / n_bins * PI)[:, None] > 0
    use &= angle_ok
    relative_entropy = float(np.sum(pdf[use] * np.log(pdf[use] / prior[use]))) * box_volume
    return float(np.round(relative_entropy, 3))


def mechanistic_diversity(attributions: np.ndarray, *, device: str = "cpu") -> np.ndarray:
    """Per map, the largest dot product of its flattened ``[L * 4]`` vector with another map of the set (``[N]``;
    the original's "second highest", self excluded)."""
    from d3core.evaluation.metrics import max_dot_product

    a = np.asarray(attributions, np.float32).reshape(len(attributions), -1)
    if len(a) < 2:
        return np.full(len(a), np.nan)
    return max_dot_product(a, None, exclude_self=True, device=device)


def dinucleotide_shuffles(tokens: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """One dinucleotide-preserving shuffle of each sequence (tangermeme's ``dinucleotide_shuffle``; first and last
    base kept), tokens ``[N, L]`` -> ``[N, L]``."""
    import torch

    ersatz = require("tangermeme.ersatz", "dinucleotide shuffles")
    tokens = np.asarray(tokens)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[tokens.astype(np.int64)].transpose(0, 2, 1).copy())
    shuffled = ersatz.dinucleotide_shuffle(x, n=1, random_state=seed)  # [N, 1, 4, L]
    return shuffled[:, 0].argmax(dim=1).numpy().astype(np.uint8)
