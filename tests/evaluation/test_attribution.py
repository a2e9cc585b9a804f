"""Attribution maps (captum GradientShap with gradient correction) and the paper's attribution consistency (KLD):
a hand example; sequences carrying a planted motif are more consistent than their dinucleotide shuffles under an
oracle that reads the motif; mechanistic diversity."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from d3core.evaluation import attribution as A
from d3core.evaluation.oracle import Oracle

MOTIF = np.array([0, 2, 0, 3, 0, 0])  # AGATAA (a GATA site)


class MotifReader(torch.nn.Module):
    """An oracle whose activity is the summed soft match to AGATAA along the forward strand (a PWM filter)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 1, len(MOTIF), bias=False)
        weight = torch.full((1, 4, len(MOTIF)), -1.0)
        weight[0, torch.as_tensor(MOTIF), torch.arange(len(MOTIF))] = 1.0
        self.conv.weight.data.copy_(weight)

    def forward(self, x):
        return torch.nn.functional.softplus(2.0 * (self.conv(x) - 4.0)).sum(dim=2)


def _planted(n, length, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    for row in tokens:
        for start in rng.choice(np.arange(5, length - 10, 12), size=2, replace=False):
            row[start:start + len(MOTIF)] = MOTIF
    return tokens


def test_consistency_hand_example():
    # every position points the same way (1, 1, -1, -1) with a different strength: after the gradient correction,
    # normalisation, the 3-window sum and the projection all kept points share one direction, whose angles
    # (phi_1 = 0.478, phi_2 = pi/2) fall in the interior bin (4, 15). The pdf is 1 / 0.01 there and 0 elsewhere; the
    # prior averages a full 6 x 6 window -> KL = 100 ln(36) * 0.01 = ln 36.
    rng = np.random.default_rng(1)
    strength = rng.uniform(0.5, 2.0, size=(30, 40, 1))
    maps = strength * np.array([1.0, 1.0, -1.0, -1.0])
    assert A.attribution_consistency(maps) == pytest.approx(round(math.log(36), 3))
    coordinates = A.consistency_coordinates(maps)
    assert coordinates.shape == (30, 40, 3) and np.allclose(coordinates[..., 0], 0)


def test_planted_motifs_are_more_consistent_than_their_dinucleotide_shuffles():
    oracle = Oracle(MotifReader().eval(), "test", ["activity"], 200)
    planted = _planted(n=300, length=200)
    shuffled = A.dinucleotide_shuffles(planted, seed=0)
    assert shuffled.shape == planted.shape and not np.array_equal(shuffled, planted)
    # a dinucleotide shuffle keeps the first and last base and every dinucleotide count
    assert (shuffled[:, 0] == planted[:, 0]).all() and (shuffled[:, -1] == planted[:, -1]).all()
    from d3core.evaluation.metrics import kmer_counts

    for i in range(5):
        np.testing.assert_array_equal(kmer_counts(planted[i:i + 1], 2), kmer_counts(shuffled[i:i + 1], 2))
    settings = dict(backgrounds=50, samples=16, stdev=0.1, seed=0)
    maps = A.gradient_shap(oracle, planted, 0, **settings)
    shuffled_maps = A.gradient_shap(oracle, shuffled, 0, **settings)
    assert maps.shape == (300, 200, 4) and np.allclose(maps.sum(axis=2), 0, atol=1e-5)  # gradient-corrected
    planted_score = A.attribution_consistency(maps)
    shuffled_score = A.attribution_consistency(shuffled_maps)
    assert planted_score > shuffled_score + 0.08, (planted_score, shuffled_score)
    # the strongest attribution of a planted sequence lies on one of its motif copies
    strongest = np.abs(maps).sum(axis=2).argmax(axis=1)
    width = len(MOTIF)
    on_motif = [any(np.array_equal(planted[i, t:t + width], MOTIF) for t in range(max(0, s - width + 1), s + 1))
                for i, s in enumerate(strongest)]
    assert np.mean(on_motif) > 0.9
    np.testing.assert_array_equal(A.gradient_shap(oracle, planted[:16], 0, **settings), maps[:16])  # seeded


def test_backgrounds_follow_the_original():
    three = A.random_backgrounds(50, 30, letters=3, seed=0)
    assert three.shape == (50, 4, 30) and (three.sum(axis=1) == 1).all() and three[:, 3].sum() == 0
    assert A.random_backgrounds(50, 30, letters=4, seed=0)[:, 3].sum() > 0


def test_mechanistic_diversity_by_hand():
    maps = np.zeros((3, 2, 4), np.float32)
    maps[0, 0, 0] = 1.0
    maps[1, 0, 0], maps[1, 1, 1] = 2.0, 1.0
    maps[2, 1, 1] = 3.0
    # dot products: (0,1) = 2, (0,2) = 0, (1,2) = 3 -> per map the largest with another map
    np.testing.assert_allclose(A.mechanistic_diversity(maps), [2.0, 3.0, 3.0])
