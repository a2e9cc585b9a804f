"""Discriminability AUROC: about 0.5 for identical sets, about 1 for clearly different ones."""
from __future__ import annotations

import numpy as np

from d3core.evaluation.discriminator import discriminability_auroc


def _tokens(n, probs, seed):
    return np.random.default_rng(seed).choice(4, size=(n, 64), p=probs).astype(np.uint8)


def test_identical_sets_are_indistinguishable():
    real = _tokens(300, (0.25, 0.25, 0.25, 0.25), 0)
    result = discriminability_auroc(real, real.copy(), seed=0, max_epochs=5)
    assert result["n_per_class"] == 300
    assert abs(result["auroc"] - 0.5) < 0.15, result


def test_disjoint_sets_are_separated():
    gc_rich = _tokens(300, (0.1, 0.4, 0.4, 0.1), 1)
    at_rich = _tokens(300, (0.4, 0.1, 0.1, 0.4), 2)
    result = discriminability_auroc(gc_rich, at_rich, seed=0, max_epochs=5)
    assert result["auroc"] > 0.95, result


def test_too_few_sequences_give_nan():
    result = discriminability_auroc(_tokens(3, (0.25,) * 4, 0), _tokens(3, (0.25,) * 4, 1))
    assert np.isnan(result["auroc"]) and result["epochs"] == 0
