"""The parts of the population search (:mod:`d3core.design.evolve`) on plain arrays: selection, archive, front,
edit budget. Fast: no model."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.design.evolve import (Archive, EvolveSettings, describe_edits, edit_window, effective_size,
                                  pareto_front, random_positions, systematic_resample, tempered_weights)
from d3core.errors import D3UserError


@pytest.mark.parametrize("target", [1.5, 4.0, 10.0, 19.0])
def test_beta_is_bisected_to_the_target_effective_sample_size(target):
    values = np.random.default_rng(0).normal(size=20)
    weights, beta = tempered_weights(values, target)
    assert beta > 0
    assert weights.sum() == pytest.approx(1.0)
    assert effective_size(weights) == pytest.approx(target, rel=1e-3)
    assert weights.argmax() == values.argmax()


def test_equal_values_or_a_large_target_keep_equal_weights():
    assert tempered_weights(np.ones(8), 2.0)[1] == 0.0
    weights, beta = tempered_weights(np.arange(8.0), 8.0)
    assert beta == 0.0 and np.allclose(weights, 1 / 8)


def test_systematic_resampling_follows_the_weights():
    weights = np.array([0.5, 0.25, 0.25, 0.0])
    picked = systematic_resample(weights, 8, np.random.default_rng(1))
    assert np.bincount(picked, minlength=4).tolist() == [4, 2, 2, 0]


def test_the_archive_keeps_the_best_distinct_designs():
    archive = Archive(capacity=3, distance=1)
    base = np.zeros((1, 6), np.uint8)
    near = base.copy()
    near[0, 0] = 1                      # 1 position from base: not distinct at distance 1
    far = base.copy()
    far[0, :3] = 2                      # 3 positions away
    archive.add(np.concatenate([base, near]), np.array([1.0, 2.0]), np.zeros((2, 1)))
    archive.add(far, np.array([0.5]), np.zeros((1, 1)))
    assert archive.values.tolist() == [2.0, 0.5]
    np.testing.assert_array_equal(archive.tokens[0], near[0])
    archive.add(np.full((2, 6), 3, np.uint8), np.array([3.0, 3.0]), np.zeros((2, 1)))  # a duplicate enters once
    assert archive.values.tolist() == [3.0, 2.0, 0.5]


def test_the_pareto_front_holds_every_design_nothing_beats_on_both():
    values = np.array([3.0, 2.0, 2.5, 1.0, 3.0])
    bits = np.array([1.9, 1.7, 1.95, 1.6, 1.8])
    front = pareto_front(values, bits)
    assert front.tolist() == [4, 1, 3]


def test_with_a_judge_the_front_has_three_axes():
    values = np.array([3.0, 2.0, 2.5, 1.0, 3.0])
    bits = np.array([1.9, 1.7, 1.95, 1.6, 1.8])
    judged = np.array([0.0, 0.0, 5.0, 0.0, 0.0])             # design 2: beaten on two axes, best under the judge
    assert pareto_front(values, bits, judged).tolist() == [4, 2, 1, 3]
    for i in pareto_front(values, bits, judged):
        assert not ((values >= values[i]) & (bits <= bits[i]) & (judged >= judged[i])
                    & ((values > values[i]) | (bits < bits[i]) | (judged > judged[i]))).any()


def test_equal_designs_enter_the_front_once():
    assert pareto_front(np.array([1.0, 1.0, 0.5]), np.array([1.8, 1.8, 1.9])).tolist() == [0]


@pytest.mark.parametrize("fraction, expected", [(0.2, 10), (0.01, 1), (1.0, 50)])
def test_a_fraction_of_positions_frees_exactly_that_many_per_member(fraction, expected):
    free = random_positions((64, 50), fraction, np.random.default_rng(3))
    assert free.sum(axis=1).tolist() == [expected] * 64
    assert len({row.tobytes() for row in free}) > 1 or expected == 50     # each member its own positions


def test_renoise_as_a_percentage_is_checked_as_one():
    with pytest.raises(D3UserError, match="--renoise 150%: a fraction of positions in"):
        EvolveSettings(renoise=1.5, renoise_positions=True).checked()


def test_edit_windows_never_allow_more_than_k_edits():
    rng = np.random.default_rng(2)
    start = rng.integers(0, 4, 50).astype(np.uint8)
    members = np.repeat(start[None], 64, axis=0)
    for _ in range(20):
        free = edit_window(start, members, 5, rng)
        assert ((members != start) & ~free).sum() == 0          # edited positions stay free
        members = np.where(free, rng.integers(0, 4, members.shape), members).astype(np.uint8)
        assert (members != start).sum(axis=1).max() <= 5
    assert (members != start).sum(axis=1).max() == 5


def test_edits_are_listed_from_position_1():
    start = np.array([0, 1, 2, 3], np.uint8)
    assert describe_edits(start, np.array([[0, 1, 2, 3], [2, 1, 2, 0]], np.uint8)) == ["", "1:A>G;4:T>A"]


@pytest.mark.parametrize("changes, says", [({"population": 1}, "--population 1"), ({"renoise": 0}, "--renoise 0"),
                                           ({"renoise": 1.5}, "in (0, 1]"), ({"ess": 0}, "--ess 0"),
                                           ({"budget": 0}, "--budget 0"), ({"max_edits": 0}, "--max-edits 0")])
def test_bad_settings_are_one_line_errors(changes, says):
    with pytest.raises(D3UserError, match=says.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        EvolveSettings(**changes).checked()


def test_edit_budgets_need_start_sequences_and_budgets_a_first_round():
    with pytest.raises(D3UserError, match="--max-edits counts edits from a start sequence"):
        EvolveSettings(max_edits=5).checked_for(from_start=False)
    EvolveSettings(max_edits=5, population=8, budget=9).checked_for(from_start=True)  # 1 call for the start + 8
    with pytest.raises(D3UserError, match="--budget 10: the first population takes 8 oracle call"):
        EvolveSettings(population=8, budget=10).checked_for(from_start=False)
