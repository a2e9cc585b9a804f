"""Metrics on known inputs: identical sets score 'same', disjoint sets the other extreme; agreement with scipy."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.evaluation import metrics as M


def _random_tokens(n, length, seed=0, probs=(0.25, 0.25, 0.25, 0.25)):
    return np.random.default_rng(seed).choice(4, size=(n, length), p=probs).astype(np.uint8)


def test_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 3))
    b = a + rng.normal(size=(300, 3))
    b[:20] = np.round(b[:20])  # ties
    for c in range(3):
        assert M.pearson(a, b)[c] == pytest.approx(stats.pearsonr(a[:, c], b[:, c])[0], abs=1e-12)
        assert M.spearman(a, b)[c] == pytest.approx(stats.spearmanr(a[:, c], b[:, c])[0], abs=1e-12)
    np.testing.assert_allclose(M.pearson(a, a), 1.0)
    np.testing.assert_allclose(M.spearman(a, -a), -1.0)
    assert np.isnan(M.pearson(np.ones(5), np.arange(5.0))[0])  # constant column


def test_ks_statistic():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=200), rng.normal(0.4, size=150)
    assert M.ks_statistic(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)
    assert M.ks_statistic(x, x) == 0.0
    assert M.ks_statistic(x, x + 100) == 1.0


def test_kmer_spectra_and_js_distance():
    tokens = _random_tokens(400, 60)
    for k in (3, 4, 5, 6):
        counts = M.kmer_counts(tokens, k)
        assert counts.shape == (4 ** k,) and counts.sum() == 400 * (60 - k + 1)
        assert M.js_distance(M.kmer_spectrum(tokens, k), M.kmer_spectrum(tokens.copy(), k)) == 0.0
    all_a = np.zeros((10, 20), np.uint8)
    all_c = np.ones((10, 20), np.uint8)
    for k in (3, 6):
        assert M.js_distance(M.kmer_spectrum(all_a, k), M.kmer_spectrum(all_c, k)) == pytest.approx(1.0)
    # lexicographic indexing: ACG = 0*16 + 1*4 + 2
    assert M.kmer_counts(np.array([[0, 1, 2]]), 3)[6] == 1
    distance = pytest.importorskip("scipy.spatial.distance")
    p, q = M.kmer_spectrum(tokens, 3), M.kmer_spectrum(_random_tokens(50, 60, 1, (0.4, 0.1, 0.1, 0.4)), 3)
    assert M.js_distance(p, q) == pytest.approx(distance.jensenshannon(p, q, base=2), abs=1e-12)


def test_auroc():
    labels = np.array([1, 1, 1, 0, 0, 0])
    assert M.auroc(np.array([6, 5, 4, 3, 2, 1]), labels) == 1.0
    assert M.auroc(np.array([1, 2, 3, 4, 5, 6]), labels) == 0.0
    assert M.auroc(np.zeros(6), labels) == 0.5
    assert np.isnan(M.auroc(np.zeros(3), np.ones(3)))
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    scores, y = np.round(rng.normal(size=200), 1), rng.random(200) < 0.3
    assert M.auroc(scores, y) == pytest.approx(metrics.roc_auc_score(y, scores), abs=1e-12)


def test_gc_and_nearest_identity():
    tokens = np.array([[0, 1, 2, 3], [1, 1, 2, 2], [0, 0, 3, 3]], np.uint8)
    np.testing.assert_array_equal(M.gc_content(tokens), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(M.nearest_identity(tokens, tokens), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(M.nearest_identity(tokens[:1], tokens[1:]), [0.5])
    ref = _random_tokens(3000, 50, 4)
    chunked = M.nearest_identity(ref[:40], ref[100:], query_chunk=7, reference_chunk=333)
    np.testing.assert_array_equal(chunked, M.nearest_identity(ref[:40], ref[100:]))
    assert chunked.max() < 0.7  # random sequences: no near copies
