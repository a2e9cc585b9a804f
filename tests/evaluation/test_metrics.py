"""Each metric against an independent computation on known inputs: identical sets score 'same' (Fréchet 0, KL 0,
JS 0), and a small example worked by hand for each."""
from __future__ import annotations

import math

import numpy as np
import pytest

from d3core.evaluation import metrics as M


def _random_tokens(n, length, seed=0, probs=(0.25, 0.25, 0.25, 0.25)):
    return np.random.default_rng(seed).choice(4, size=(n, length), p=probs).astype(np.uint8)


def test_pearson_and_spearman_by_hand():
    a = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    b = np.array([[2.0, 1.0], [4.0, 3.0], [5.0, 2.0], [9.0, 4.0]])
    # r = cov / (sd sd): column 0 by hand
    x, y = a[:, 0] - 2.5, b[:, 0] - 5.0
    assert M.pearson(a, b)[0] == pytest.approx((x @ y) / math.sqrt((x @ x) * (y @ y)), abs=1e-12)
    # column 1: ranks 1,3,2,4 against 1,2,3,4 -> rho = 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 60
    assert M.spearman(a, b)[1] == pytest.approx(0.8, abs=1e-12)
    assert M.spearman(a, b)[0] == pytest.approx(1.0)
    assert np.isnan(M.pearson(np.ones(5), np.arange(5.0))[0])  # constant column


def test_ks_statistic_by_hand():
    # F_a jumps at 1, 2, 3; F_b at 2.5, 3.5: the largest gap is at 2 (2/3 vs 0)
    assert M.ks_statistic([1, 2, 3], [2.5, 3.5]) == pytest.approx(2 / 3)
    x = np.random.default_rng(2).normal(size=200)
    assert M.ks_statistic(x, x) == 0.0 and M.ks_statistic(x, x + 100) == 1.0


def test_kmer_counts_and_spectra():
    tokens = _random_tokens(400, 60)
    for k in (3, 4, 5, 6):
        counts = M.kmer_counts(tokens, k)
        assert counts.shape == (4 ** k,) and counts.sum() == 400 * (60 - k + 1)
    assert M.kmer_counts(np.array([[0, 1, 2]]), 3)[6] == 1  # lexicographic: ACG = 0*16 + 1*4 + 2
    # AAAC: the 3-mers AAA and AAC once each
    np.testing.assert_array_equal(np.flatnonzero(M.kmer_counts(np.array([[0, 0, 0, 1]]), 3)), [0, 1])


def test_kmer_kl_and_js_by_hand():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # sum p ln p/q (- p + q sums to 0)
    assert M.kmer_kl(p, q) == pytest.approx(round(kl, 6), abs=1e-12)
    m = (p + q) / 2
    jsd = 0.5 * sum(p * np.log(p / m)) + 0.5 * sum(q * np.log(q / m))  # natural log
    assert M.kmer_js(p, q) == pytest.approx(round(math.sqrt(jsd), 6), abs=1e-12)
    assert M.js_distance_base2(p, q) == pytest.approx(math.sqrt(jsd / math.log(2)), abs=1e-12)
    tokens = _random_tokens(300, 50)
    for k in (3, 6):
        spectrum = M.kmer_spectrum(tokens, k)
        assert M.kmer_kl(spectrum, M.kmer_spectrum(tokens.copy(), k)) == 0.0
        assert M.kmer_js(spectrum, M.kmer_spectrum(tokens.copy(), k)) == 0.0
    # disjoint spectra: the JS distance is sqrt(ln 2) (natural log), KL is infinite
    all_a, all_c = np.zeros((5, 20), np.uint8), np.ones((5, 20), np.uint8)
    assert M.kmer_js(M.kmer_spectrum(all_a, 3), M.kmer_spectrum(all_c, 3)) == pytest.approx(
        round(math.sqrt(math.log(2)), 6))
    assert M.kmer_kl(M.kmer_spectrum(all_a, 3), M.kmer_spectrum(all_c, 3)) == math.inf


def test_auroc_by_hand():
    labels = np.array([1, 1, 1, 0, 0, 0])
    assert M.auroc(np.array([6, 5, 4, 3, 2, 1]), labels) == 1.0
    assert M.auroc(np.array([1, 2, 3, 4, 5, 6]), labels) == 0.0
    assert M.auroc(np.zeros(6), labels) == 0.5
    # pairs (pos, neg) ordered right: 3 > 1, 3 > 2, 2 = 2 (half): (2 + 0.5) / 4 pairs... 2 pos x 2 neg
    assert M.auroc(np.array([3, 2, 2, 1]), np.array([1, 1, 0, 0])) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert np.isnan(M.auroc(np.zeros(3), np.ones(3)))


def test_frechet_distance():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(500, 6))
    assert M.frechet_distance(a, a.copy()) == pytest.approx(0.0, abs=1e-8)
    # one dimension: (mu_a - mu_b)^2 + (s_a - s_b)^2
    x, y = np.array([[0.0], [2.0]]), np.array([[3.0], [7.0]])
    var_x, var_y = np.var(x, ddof=1), np.var(y, ddof=1)
    assert M.frechet_distance(x, y) == pytest.approx((1 - 5) ** 2 + (math.sqrt(var_x) - math.sqrt(var_y)) ** 2)
    # six dimensions: the formula with an eigen-decomposition square root
    b = a * np.array([1, 2, 1, 1, 1, 1]) + np.array([0, 0, 3, 0, 0, 0])
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = a.mean(axis=0) - b.mean(axis=0)
    assert M.frechet_distance(a, b) == pytest.approx(
        diff @ diff + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(np.real(_sqrtm_psd(s_a @ s_b))), rel=1e-6)


def _sqrtm_psd(matrix):
    values, vectors = np.linalg.eig(matrix)
    return vectors @ np.diag(np.sqrt(values.astype(complex))) @ np.linalg.inv(vectors)


def test_identity_and_diversity_by_hand():
    tokens = np.array([[0, 1, 2, 3], [1, 1, 2, 2], [0, 0, 3, 3]], np.uint8)
    np.testing.assert_array_equal(M.max_identity(tokens, tokens), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(M.max_identity(tokens[:1], tokens[1:]), [0.5])
    # with each other, self excluded: row 0 matches row 1 at 2 positions and row 2 at 2 -> 0.5
    np.testing.assert_array_equal(M.max_identity(tokens, None, exclude_self=True), [0.5, 0.5, 0.5])
    duplicated = np.concatenate([tokens, tokens[:1]])
    assert M.max_identity(duplicated, None, exclude_self=True)[0] == 1.0  # a copy is identical
    ref = _random_tokens(3000, 50, 4)
    chunked = M.max_identity(ref[:40], ref[100:], query_chunk=7, reference_chunk=333)
    np.testing.assert_array_equal(chunked, M.max_identity(ref[:40], ref[100:]))
    brute = np.array([(ref[:40][i] == ref[100:]).mean(axis=1).max() for i in range(40)])
    np.testing.assert_allclose(chunked, brute)
    selfed = M.max_identity(ref[:50], None, exclude_self=True, query_chunk=7, reference_chunk=11)
    brute = np.array([max((ref[i] == ref[j]).mean() for j in range(50) if j != i) for i in range(50)])
    np.testing.assert_allclose(selfed, brute)


def test_top_identities_are_the_k_nearest_references_across_chunks():
    queries, references = _random_tokens(30, 40, 5), _random_tokens(500, 40, 6)
    values, rows = M.top_identities(queries, references, 4)
    brute = (queries[:, None, :] == references[None]).mean(axis=2)
    np.testing.assert_allclose(values, -np.sort(-brute, axis=1)[:, :4])
    np.testing.assert_allclose(brute[np.arange(30)[:, None], rows], values)  # the rows are the ones with those values
    np.testing.assert_allclose(values[:, 0], M.max_identity(queries, references))
    few_values, few_rows = M.top_identities(queries, references[:2], 4)  # fewer references than k: padded
    assert np.isneginf(few_values[:, 2:]).all() and (few_rows[:, 2:] == -1).all()


def test_max_dot_product_by_hand():
    v = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)
    np.testing.assert_allclose(M.max_dot_product(v, None, exclude_self=True), [1.0, 2.0, 2.0])
    np.testing.assert_allclose(M.max_dot_product(v, None), [1.0, 4.0, 2.0])


def test_gc_content():
    tokens = np.array([[0, 1, 2, 3], [1, 1, 2, 2], [0, 0, 3, 3]], np.uint8)
    np.testing.assert_array_equal(M.gc_content(tokens), [0.5, 1.0, 0.0])
