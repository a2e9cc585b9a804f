"""Sequence-set metrics on token arrays (0..3 = A, C, G, T), numpy only. Definitions and directions:
``docs/evaluation.md``.

- :func:`pearson`, :func:`spearman`: per-column correlations (Spearman = Pearson of average ranks).
- :func:`ks_statistic`: two-sample Kolmogorov-Smirnov statistic ``sup |F_a - F_b|``.
- :func:`kmer_spectrum`, :func:`js_distance`: pooled k-mer frequencies and their Jensen-Shannon distance
  (base 2, in [0, 1]).
- :func:`auroc`: area under the ROC curve from scores and binary labels (ties count one half).
- :func:`gc_content`: GC fraction per sequence.
- :func:`motif_counts`: occurrences of an IUPAC motif on either strand (for synthetic planted-motif data).
- :func:`nearest_identity`: per query sequence, the highest fraction of identical positions to any reference sequence
  (position by position, no shifts or reverse complements).
"""
from __future__ import annotations

import numpy as np


def _columns(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r per column of ``a [N, C]`` and ``b [N, C]`` (``[C]``; NaN where a column is constant)."""
    a, b = _columns(a), _columns(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denominator = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / denominator
    return np.where(denominator > 0, np.clip(r, -1.0, 1.0), np.nan)


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along axis 0, ties sharing the mean of their ranks (as ``scipy.stats.rankdata``)."""
    x = _columns(x)
    ranks = np.empty_like(x, dtype=np.float64)
    for c in range(x.shape[1]):
        column = x[:, c]
        order = np.argsort(column, kind="mergesort")
        sorted_values = column[order]
        starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
        group = np.cumsum(starts) - 1
        first = np.flatnonzero(starts)
        last = np.r_[first[1:], len(column)] - 1
        average = (first + last) / 2.0 + 1.0
        ranks[order, c] = average[group]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho per column (``[C]``)."""
    return pearson(rankdata(a), rankdata(b))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs of ``a`` and ``b``."""
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def kmer_counts(tokens: np.ndarray, k: int, *, chunk: int = 8192) -> np.ndarray:
    """Pooled counts of every k-mer (lexicographic ACGT index, ``[4**k]`` int64) over all sequences and positions."""
    tokens = np.asarray(tokens)
    n, length = tokens.shape
    counts = np.zeros(4 ** k, dtype=np.int64)
    if length < k:
        return counts
    weights = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
    for start in range(0, n, chunk):
        block = tokens[start:start + chunk].astype(np.int64)
        index = np.zeros((block.shape[0], length - k + 1), dtype=np.int64)
        for j in range(k):
            index += block[:, j:length - k + 1 + j] * weights[j]
        counts += np.bincount(index.ravel(), minlength=4 ** k)
    return counts


def kmer_spectrum(tokens: np.ndarray, k: int) -> np.ndarray:
    """Pooled k-mer frequencies (``kmer_counts`` normalised to sum 1)."""
    counts = kmer_counts(tokens, k).astype(np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance ``sqrt(JSD)`` with base-2 logarithms: 0 for equal distributions, 1 for disjoint ones.

    ``p`` and ``q`` are normalised first (counts are fine)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return float(np.sqrt(max(0.5 * kl(p) + 0.5 * kl(q), 0.0)))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg), ties counted one half); NaN if a class is empty."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)[:, 0]
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gc_content(tokens: np.ndarray) -> np.ndarray:
    """GC fraction of each sequence (``[N]``; C = 1, G = 2)."""
    tokens = np.asarray(tokens)
    return ((tokens == 1) | (tokens == 2)).mean(axis=1)


def nearest_identity(queries: np.ndarray, references: np.ndarray, *, device: str = "cpu",
                     query_chunk: int = 1024, reference_chunk: int = 8192) -> np.ndarray:
    """For each query, the highest fraction of positions identical to one reference sequence (``[N_query]``).

    Computed as one-hot dot products in chunks (memory bounded by the chunk sizes; ``device="cuda"`` for large sets).
    """
    import torch

    queries = np.asarray(queries)
    references = np.asarray(references)
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"lengths differ: {queries.shape[1]} vs {references.shape[1]}")
    length = queries.shape[1]
    best = np.zeros(queries.shape[0], dtype=np.float64)
    dtype = torch.float32 if length < (1 << 24) else torch.float64

    def hot(block: np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(block)).to(device=device, dtype=torch.int64)
        return torch.nn.functional.one_hot(t, 4).to(dtype).reshape(t.shape[0], -1)

    for qs in range(0, queries.shape[0], query_chunk):
        q = hot(queries[qs:qs + query_chunk])
        top = torch.zeros(q.shape[0], device=device, dtype=dtype)
        for rs in range(0, references.shape[0], reference_chunk):
            r = hot(references[rs:rs + reference_chunk])
            top = torch.maximum(top, (q @ r.T).max(dim=1).values)
        best[qs:qs + q.shape[0]] = top.cpu().numpy() / length
    return best


def motif_counts(tokens: np.ndarray, consensus: str) -> np.ndarray:
    """Occurrences of an IUPAC motif per sequence (``[N]`` int): positions where the motif or its reverse complement
    starts (a palindromic site counts once; overlapping sites all count)."""
    from d3core.data.encoding import IUPAC

    tokens = np.asarray(tokens)
    consensus = consensus.upper()
    k = len(consensus)
    n, length = tokens.shape
    if length < k:
        return np.zeros(n, dtype=np.int64)
    complement = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")
    hits = np.zeros((n, length - k + 1), dtype=bool)
    for pattern in {consensus, consensus.translate(complement)[::-1]}:
        match = np.ones((n, length - k + 1), dtype=bool)
        for j, letter in enumerate(pattern):
            allowed = np.array(["ACGT".index(b) for b in IUPAC[letter]])
            match &= np.isin(tokens[:, j:length - k + 1 + j], allowed)
        hits |= match
    return hits.sum(axis=1)
