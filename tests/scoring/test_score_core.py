"""``score_sequences``: the bound is right where the answer is known (the uniform model at initialisation, an exact
i.i.d. score), seeded draws give the same numbers whatever the batch size, and the standard error falls with K."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from d3core.errors import D3UserError
from d3core.scoring import LikelihoodScores, score_sequences
from d3core.scoring.estimator import prior_kl_per_position, uniform_model_bound_per_position
from d3core.scoring.stats import stratified_mean_stderr


def _random_tokens(n: int, length: int, seed: int = 0, probs=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(4, size=(n, length), p=probs).astype(np.uint8)


@pytest.fixture(scope="module")
def tran_at_init():
    """The Tran ``tiny`` network at initialisation (zero output layer: the uniform model), 2 global labels."""
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    torch.manual_seed(0)
    return manager.architecture("Tran").build({"num_labels": 2, "length": 64, "label_mode": "global", "tokens": 4},
                                              preset="tiny")


def test_at_initialisation_the_bound_is_L_ln4_within_the_monte_carlo_error(tran_at_init, wrap_model):
    length = 64
    sm = wrap_model(tran_at_init, length, num_labels=2, label_names=["dev", "hk"])
    tokens = _random_tokens(8, length)
    with torch.no_grad():  # the zero output layer: the uniform model
        assert torch.all(tran_at_init(torch.from_numpy(tokens).long(), torch.zeros(8, 2), torch.ones(8)) == 0)
    scores = score_sequences(sm, tokens, np.array([1.0, -0.5], np.float32), samples=32, seed=3)
    target = length * math.log(4)
    summary = scores.summary()
    print(f"init: mean bound {summary['mean_nats']:.4f} +- {summary['mean_nats_stderr']:.4f} nats, L ln4 = "
          f"{target:.4f}; per sequence SE {scores.nats_stderr.mean():.4f}")
    # the uniform model's bound over t in [1e-3, 1] is 1.3868 nats per position (spec §3), 0.04 % above ln 4
    assert np.all(np.abs(scores.nats - target) < 3 * scores.nats_stderr + 1e-3 * length)
    assert np.allclose(scores.nats, length * uniform_model_bound_per_position(sm.graph, sm.noise))
    assert np.allclose(scores.bits_per_base, scores.nats / (length * math.log(2)))
    assert scores.samples == 32 and scores.seed == 3 and scores.per_position is None


def test_the_uniform_model_bound_is_the_spec_anchor():
    from d3core.diffusion import GeometricNoise, UniformGraph

    assert uniform_model_bound_per_position(UniformGraph(4), GeometricNoise(1e-4, 20.0)) == pytest.approx(1.3868,
                                                                                                           abs=1e-4)


def test_the_estimate_agrees_with_the_training_loss_averaged_over_many_draws(exact_model, wrap_model):
    """The training loss (``sedd_loss``, no control variate) averaged over 4096 stratified draws of one sequence."""
    from d3core.diffusion import TRAIN_EPS, sedd_loss

    sm = wrap_model(exact_model([0.4, 0.1, 0.1, 0.4]), 40)
    tokens = _random_tokens(3, 40, seed=7)
    ours = score_sequences(sm, tokens, samples=64, seed=0)
    generator = torch.Generator().manual_seed(0)
    reps = 4096
    for i in range(3):
        t = TRAIN_EPS + (1 - TRAIN_EPS) * (torch.arange(reps) + torch.rand(reps, generator=generator)) / reps
        x0 = torch.from_numpy(tokens[i:i + 1]).long().expand(reps, -1)
        loss = sedd_loss(sm.model, sm.graph, sm.noise, x0, None, t=t, generator=generator).double().numpy()
        mean, se = stratified_mean_stderr(loss)
        print(f"sequence {i}: training loss {mean:.2f} +- {se:.2f}, score {ours.nats[i]:.2f} +- {ours.nats_stderr[i]:.2f}")
        assert abs(mean - ours.nats[i]) < 3 * math.hypot(se, ours.nats_stderr[i])


def test_an_exact_iid_score_gives_the_exact_negative_log_likelihood(exact_model, wrap_model):
    probs = np.array([0.4, 0.1, 0.1, 0.4])
    length = 50
    sm = wrap_model(exact_model(probs), length)
    tokens = _random_tokens(6, length, seed=1, probs=probs)
    exact = -np.log(probs)[tokens].sum(axis=1)
    scores = score_sequences(sm, tokens, samples=64, seed=0, per_position=True)
    print("exact NLL:", exact.round(2), "bound:", scores.nats.round(2), "SE:", scores.nats_stderr.round(3))
    # the bound is tight for the exact score (up to the 0.1 % of the [eps, 1] time range)
    assert np.all(np.abs(scores.nats - exact) < 3 * scores.nats_stderr + 2e-3 * exact)
    assert np.allclose(scores.per_position.sum(axis=1), scores.nats)
    # common bases contribute less than rare ones
    rare = np.isin(tokens, [1, 2])
    assert scores.per_position[rare].mean() > scores.per_position[~rare].mean() + 1.0


def test_same_seed_same_numbers_whatever_the_batch_size_or_position(exact_model, wrap_model):
    sm = wrap_model(exact_model([0.3, 0.2, 0.2, 0.3]), 40)
    tokens = _random_tokens(7, 40, seed=2)
    a = score_sequences(sm, tokens, samples=8, seed=11, batch_size=3, per_position=True)
    b = score_sequences(sm, tokens, samples=8, seed=11, batch_size=256, per_position=True)
    np.testing.assert_allclose(a.nats, b.nats, rtol=1e-6)
    np.testing.assert_allclose(a.nats_stderr, b.nats_stderr, rtol=1e-5)
    np.testing.assert_allclose(a.per_position, b.per_position, rtol=1e-5, atol=1e-9)
    # a sequence gets its numbers wherever it sits in the input; other sequences get other draws
    alone = score_sequences(sm, tokens[4:5], samples=8, seed=11)
    np.testing.assert_allclose(alone.nats, a.nats[4:5], rtol=1e-6)
    other = score_sequences(sm, tokens, samples=8, seed=12)
    assert not np.allclose(other.nats, a.nats)


def test_the_standard_error_falls_as_samples_grow(wrap_model, exact_model):
    sm = wrap_model(exact_model([0.4, 0.1, 0.1, 0.4]), 50)
    tokens = _random_tokens(6, 50, seed=4)
    errors = {k: score_sequences(sm, tokens, samples=k, seed=0).nats_stderr.mean() for k in (4, 16, 64)}
    print("mean per-sequence SE by samples:", {k: round(float(v), 3) for k, v in errors.items()})
    assert errors[16] < errors[4] / 1.5 and errors[64] < errors[16] / 1.5


def test_collapsed_strata_standard_error():
    # pairs: SE = sqrt(sum of squared pair differences) / K; odd K puts the last three strata in one group
    mean, se = stratified_mean_stderr(np.array([1.0, 3.0, 2.0, 2.0]))
    assert mean == 2.0 and se == pytest.approx(math.sqrt(4.0) / 4)
    mean, se = stratified_mean_stderr(np.array([1.0, 2.0, 3.0]))
    assert se == pytest.approx(math.sqrt(1.5 * 2.0) / 3)
    # iid draws: the estimate matches the true standard error of the mean
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(20000, 16))
    assert stratified_mean_stderr(draws)[1].mean() == pytest.approx(0.25, rel=0.05)
    with pytest.raises(ValueError):
        stratified_mean_stderr(np.ones(1))


def test_the_prior_term_is_tiny_but_counted():
    from d3core.diffusion import AbsorbingGraph, GeometricNoise, UniformGraph

    kl = prior_kl_per_position(UniformGraph(4), GeometricNoise(1e-4, 20.0))
    assert 0 <= kl < 1e-12
    assert prior_kl_per_position(UniformGraph(4), GeometricNoise(1e-4, 2.0)) > 1e-3  # short schedules pay for it
    assert prior_kl_per_position(AbsorbingGraph(5), GeometricNoise(1e-4, 20.0)) == pytest.approx(math.exp(-20))


def test_summary_and_paired_differences(exact_model, wrap_model):
    sm = wrap_model(exact_model([0.4, 0.1, 0.1, 0.4]), 30)
    tokens = _random_tokens(10, 30, seed=5)
    scores = score_sequences(sm, tokens, samples=16)
    assert isinstance(scores, LikelihoodScores) and len(scores) == 10 and scores.length == 30
    summary = scores.summary()
    assert summary["n"] == 10 and summary["mean_nats"] == pytest.approx(scores.nats.mean())
    assert summary["mean_bits_per_base"] == pytest.approx(scores.bits_per_base.mean())
    same, se = scores.difference(scores)
    assert np.all(same == 0) and np.all(se == 0)


def test_bad_requests_are_one_line_errors(exact_model, wrap_model, tran_at_init):
    sm = wrap_model(exact_model([0.25] * 4), 20)
    with pytest.raises(D3UserError, match="sequences are 19 bp, but the model scores 20 bp"):
        score_sequences(sm, np.zeros((2, 19), np.uint8))
    with pytest.raises(D3UserError, match="sequence 1, position 3: token 4"):
        score_sequences(sm, np.array([[0] * 20, [0, 1, 4] + [0] * 17]))
    with pytest.raises(D3UserError, match="--samples 1"):
        score_sequences(sm, np.zeros((1, 20), np.uint8), samples=1)
    with pytest.raises(D3UserError, match="unconditional; drop the labels"):
        score_sequences(sm, np.zeros((1, 20), np.uint8), np.ones((1, 2)))
    conditional = wrap_model(tran_at_init, 64, num_labels=2, label_names=["dev", "hk"])
    with pytest.raises(D3UserError, match="conditioned on dev, hk: give labels"):
        score_sequences(conditional, np.zeros((1, 64), np.uint8))
    with pytest.raises(D3UserError, match=r"labels of shape \[3, 3\]"):
        score_sequences(conditional, np.zeros((3, 64), np.uint8), np.ones((3, 3)))
