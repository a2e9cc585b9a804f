"""Sequence-set metrics on token arrays (0..3 = A, C, G, T). Statistics come from scipy and scikit-learn; this module
only shapes the inputs. Definitions, units and directions: ``docs/evaluation.md`` (spec §9).

- :func:`pearson`, :func:`spearman`: per-column correlations (``scipy.stats``).
- :func:`ks_statistic`: two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``).
- :func:`kmer_counts`, :func:`kmer_spectrum`: pooled k-mer counts / frequencies (lexicographic ACGT index).
- :func:`kmer_kl`, :func:`kmer_js`: the paper's k-mer spectrum shift: ``sum(scipy.special.kl_div(p, q))`` and
  ``scipy.spatial.distance.jensenshannon(p, q)`` (natural log), rounded to 6 decimals; :func:`js_distance_base2`
  is the base-2 Jensen-Shannon distance d3 reported before (metrics version 1).
- :func:`auroc`: area under the ROC curve (``sklearn.metrics.roc_auc_score``).
- :func:`frechet_distance`: Fréchet distance between two sets of embeddings (``scipy.linalg.sqrtm``).
- :func:`max_identity`: per query sequence, the highest fraction of identical positions to a reference sequence
  (percent identity, sequence diversity); :func:`max_dot_product` the same on any vectors (mechanistic diversity).
- :func:`gc_content`, :func:`motif_counts`: GC fraction; occurrences of an IUPAC motif (planted-motif data).
"""
from __future__ import annotations

import warnings

import numpy as np

KMER_DECIMALS = 6


def _columns(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def _per_column(statistic, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _columns(a), _columns(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    out = np.full(a.shape[1], np.nan)
    for c in range(a.shape[1]):
        x, y = a[:, c], b[:, c]
        measured = ~(np.isnan(x) | np.isnan(y))  # NaN: a label not measured in that row
        if not measured.all():
            x, y = x[measured], y[measured]
        if x.shape[0] >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[c] = float(statistic(x, y)[0])
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r per column of ``a [N, C]`` and ``b [N, C]`` (``[C]``; NaN where a column is constant), over the rows
    where neither is NaN (missing labels)."""
    from scipy.stats import pearsonr

    return _per_column(pearsonr, a, b)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho per column (``[C]``; NaN where a column is constant), over the rows where neither is NaN."""
    from scipy.stats import spearmanr

    return _per_column(spearmanr, a, b)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``sup |F_a - F_b|`` (NaN if a set is empty)."""
    from scipy.stats import ks_2samp

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(ks_2samp(a, b).statistic)


def kmer_counts(tokens: np.ndarray, k: int, *, chunk: int = 8192) -> np.ndarray:
    """Pooled counts of every k-mer (lexicographic ACGT index: ACG = 0*16 + 1*4 + 2; ``[4**k]`` int64) over all
    sequences and positions."""
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


def kmer_kl(p: np.ndarray, q: np.ndarray) -> float:
    """The paper's k-mer KL divergence (nats): ``sum(scipy.special.kl_div(p, q))`` (= sum p ln(p/q) - p + q),
    rounded to 6 decimals; infinite when ``q`` lacks a k-mer that ``p`` has. ``p`` = real, ``q`` = generated."""
    from scipy.special import kl_div

    return float(np.round(np.sum(kl_div(np.asarray(p, np.float64), np.asarray(q, np.float64))), KMER_DECIMALS))


def kmer_js(p: np.ndarray, q: np.ndarray) -> float:
    """The paper's k-mer Jensen-Shannon distance: ``scipy.spatial.distance.jensenshannon(p, q)`` (natural log; the
    square root of the divergence, in [0, sqrt(ln 2)]), rounded to 6 decimals."""
    from scipy.spatial.distance import jensenshannon

    return float(np.round(jensenshannon(np.asarray(p, np.float64), np.asarray(q, np.float64)), KMER_DECIMALS))


def js_distance_base2(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance with base-2 logarithms (in [0, 1]; d3's ``js_kmer_k*`` of metrics version 1)."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(np.asarray(p, np.float64), np.asarray(q, np.float64), base=2))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); NaN if a class is empty."""
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between the Gaussians fitted to embeddings ``a [N, E]`` and ``b [M, E]`` (spec §9.2):
    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with ``np.cov`` covariances; if the matrix square root is
    not finite, ``eps * I`` is added to both covariances; an imaginary part above 1e-3 on the diagonal is an error,
    a smaller one is dropped."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular products (fewer sequences than dimensions) are expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s_a @ s_b)
        if not np.isfinite(covmean).all():
            offset = np.eye(s_a.shape[0]) * eps
            covmean = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Fréchet distance: imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


def top_dot_products(queries: np.ndarray, references: np.ndarray | None = None, k: int = 1, *,
                     exclude_self: bool = False, transform=None, device: str = "cpu", query_chunk: int = 1024,
                     reference_chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``queries``, the ``k`` largest dot products with rows of ``references`` and those rows:
    ``(values float64 [N, k], rows int64 [N, k])``, largest first (fewer references than ``k``: padded with -inf
    and row -1).

    ``references=None`` compares the queries with each other; ``exclude_self`` then skips each row's product with
    itself (the "second highest" of the paper's diversity metrics). ``transform`` turns a chunk of rows into float
    vectors ``[n, D]`` (default: the rows as they are). Chunked matrix products: memory is bounded by the chunk sizes
    (``device="cuda"`` for large sets).
    """
    import torch

    same = references is None
    queries = np.asarray(queries)
    references = queries if same else np.asarray(references)
    as_vectors = transform or (lambda rows: np.asarray(rows, dtype=np.float32).reshape(len(rows), -1))

    def tensor(rows):
        return torch.from_numpy(np.ascontiguousarray(as_vectors(rows))).to(device)

    values = np.full((queries.shape[0], k), -np.inf)
    rows_of = np.full((queries.shape[0], k), -1, dtype=np.int64)
    for qs in range(0, queries.shape[0], query_chunk):
        q = tensor(queries[qs:qs + query_chunk])
        top = torch.full((q.shape[0], k), -float("inf"), dtype=q.dtype, device=device)
        top_rows = torch.full((q.shape[0], k), -1, dtype=torch.int64, device=device)
        for rs in range(0, references.shape[0], reference_chunk):
            r = tensor(references[rs:rs + reference_chunk]).to(q.dtype)
            if r.shape[1] != q.shape[1]:
                raise ValueError(f"widths differ: {q.shape[1]} vs {r.shape[1]}")
            products = q @ r.T
            if same and exclude_self:
                rows = torch.arange(q.shape[0], device=device)
                cols = rows + qs - rs
                inside = (cols >= 0) & (cols < r.shape[0])
                products[rows[inside], cols[inside]] = -float("inf")
            chunk_top, chunk_rows = products.topk(min(k, r.shape[0]), dim=1)
            merged = torch.cat([top, chunk_top], dim=1)
            merged_rows = torch.cat([top_rows, chunk_rows + rs], dim=1)
            top, picked = merged.topk(k, dim=1)
            top_rows = merged_rows.gather(1, picked)
        values[qs:qs + q.shape[0]] = top.cpu().numpy()
        rows_of[qs:qs + q.shape[0]] = top_rows.cpu().numpy()
    return values, rows_of


def max_dot_product(queries: np.ndarray, references: np.ndarray | None = None, *, exclude_self: bool = False,
                    transform=None, device: str = "cpu", query_chunk: int = 1024,
                    reference_chunk: int = 8192) -> np.ndarray:
    """For each row of ``queries``, the largest dot product with a row of ``references`` (``float64 [N]``; see
    :func:`top_dot_products`)."""
    return top_dot_products(queries, references, 1, exclude_self=exclude_self, transform=transform, device=device,
                            query_chunk=query_chunk, reference_chunk=reference_chunk)[0][:, 0]


def _flat_one_hot(tokens: np.ndarray) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[np.asarray(tokens, np.int64)].reshape(len(tokens), -1)


def max_identity(queries: np.ndarray, references: np.ndarray | None = None, *, exclude_self: bool = False,
                 device: str = "cpu", query_chunk: int = 1024, reference_chunk: int = 8192) -> np.ndarray:
    """For each query sequence (tokens ``[N, L]``), the highest fraction of identical positions to one reference
    sequence (``[N]`` in [0, 1]; aligned, no shifts or reverse complements): the flattened one-hot dot product over
    ``L`` (spec §9.4). ``references=None`` with ``exclude_self`` is the paper's sequence diversity (§9.12)."""
    queries = np.asarray(queries)
    if references is not None and np.asarray(references).shape[1] != queries.shape[1]:
        raise ValueError(f"lengths differ: {queries.shape[1]} vs {np.asarray(references).shape[1]}")
    best = max_dot_product(queries, references, exclude_self=exclude_self, transform=_flat_one_hot, device=device,
                           query_chunk=query_chunk, reference_chunk=reference_chunk)
    return best / queries.shape[1]


def top_identities(queries: np.ndarray, references: np.ndarray, k: int, *, device: str = "cpu") -> \
        tuple[np.ndarray, np.ndarray]:
    """For each query sequence (tokens ``[N, L]``), its ``k`` highest identities (fractions, as
    :func:`max_identity`) to reference sequences and those references' rows: ``([N, k], [N, k])``, largest first."""
    queries = np.asarray(queries)
    if np.asarray(references).shape[1] != queries.shape[1]:
        raise ValueError(f"lengths differ: {queries.shape[1]} vs {np.asarray(references).shape[1]}")
    values, rows = top_dot_products(queries, references, k, transform=_flat_one_hot, device=device)
    return values / queries.shape[1], rows


def gc_content(tokens: np.ndarray) -> np.ndarray:
    """GC fraction of each sequence (``[N]``; C = 1, G = 2)."""
    tokens = np.asarray(tokens)
    return ((tokens == 1) | (tokens == 2)).mean(axis=1)


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
