"""Graphs and noise schedules: construction, properties and the score entropy against its definition."""
import math

import pytest
import torch

from d3core.diffusion import (
    AbsorbingGraph,
    GeometricNoise,
    LogLinearNoise,
    UniformGraph,
    build_graph,
    build_noise,
    sample_categorical,
)


# ------------------------------------------------------------------------------------------------ factories
def test_build_graph():
    uniform, absorbing = build_graph("uniform", 4), build_graph("Absorbing", 4)
    assert isinstance(uniform, UniformGraph) and (uniform.dim, uniform.absorb) == (4, False)
    assert isinstance(absorbing, AbsorbingGraph) and (absorbing.dim, absorbing.absorb) == (5, True)
    assert absorbing.mask_index == 4
    with pytest.raises(ValueError, match="unknown graph type 'blocky'.*absorbing, uniform"):
        build_graph("blocky", 4)


def test_absorbing_has_no_forward_transition():
    with pytest.raises(NotImplementedError, match="transp_transition"):
        AbsorbingGraph(5).transition(torch.zeros(2, 3, dtype=torch.long), 0.1)


def test_build_noise_and_no_parameters():
    geometric = build_noise("geometric", sigma_min=1e-4, sigma_max=20)
    assert isinstance(geometric, GeometricNoise) and not isinstance(geometric, torch.nn.Module)
    assert isinstance(build_noise("LogLinear"), LogLinearNoise)
    assert not hasattr(geometric, "parameters")
    with pytest.raises(ValueError, match="unknown noise type 'cosine'.*geometric, loglinear"):
        build_noise("cosine")
    with pytest.raises(TypeError, match="bad arguments for noise type 'loglinear'"):
        build_noise("loglinear", sigma_min=1.0)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        GeometricNoise(sigma_min=2.0, sigma_max=1.0)


def test_geometric_anchor_values():
    sigma, rate = GeometricNoise()(torch.tensor([1e-3, 1e-5, 1.0]))
    assert sigma[0].item() == pytest.approx(1.0123e-4, rel=1e-4)
    assert sigma[1].item() == pytest.approx(1.0001e-4, rel=1e-4)
    assert sigma[2].item() == pytest.approx(20.0, rel=1e-5)
    assert (rate / sigma).tolist() == pytest.approx([math.log(20 / 1e-4)] * 3, rel=1e-5)


@pytest.mark.parametrize("noise", [GeometricNoise(), LogLinearNoise()], ids=repr)
def test_rate_is_derivative_of_total_noise(noise):
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    numeric = (noise(t + h)[0] - noise(t - h)[0]) / (2 * h)
    torch.testing.assert_close(noise(t)[1], numeric, rtol=1e-6, atol=0)


# ------------------------------------------------------------------------------------------------ graph properties
@pytest.mark.parametrize("graph", [UniformGraph(4), AbsorbingGraph(5)], ids=repr)
def test_rates_and_transitions_are_consistent(graph):
    x = torch.arange(graph.dim)
    rate, transp_rate = graph.rate(x), graph.transp_rate(x)  # row i: Q[:, i] and Q[i, :]
    torch.testing.assert_close(rate.sum(-1), torch.zeros(graph.dim))  # columns of Q sum to 0
    torch.testing.assert_close(transp_rate, rate.T)  # the two views of the same matrix
    sigma = torch.tensor(0.37)
    expm = torch.linalg.matrix_exp(sigma.double() * rate.T.double())  # exp(sigma Q), Q[y, x] = rate(x)[y]
    torch.testing.assert_close(graph.transp_transition(x, sigma), expm.float(), rtol=1e-6, atol=1e-7)
    if not graph.absorb:
        torch.testing.assert_close(graph.transition(x, sigma), expm.T.float(), rtol=1e-6, atol=1e-7)


def test_uniform_staggered_score_is_inverse_transition():
    graph, dsigma = UniformGraph(4), torch.tensor([[0.3]])
    score = torch.rand(1, 3, 4) + 0.1
    Q = graph.rate(torch.arange(4)).T.double()
    expected = score.double() @ torch.linalg.matrix_exp(-0.3 * Q).T
    torch.testing.assert_close(graph.staggered_score(score, dsigma), expected.float(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("graph", [UniformGraph(4), AbsorbingGraph(5)], ids=repr)
def test_sample_transition_move_probability(graph):
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 4, (2000, 100), generator=generator)
    sigma = torch.tensor([[0.2], [2.0]]).repeat_interleave(1000, dim=0)
    x = graph.sample_transition(x0, sigma, generator=generator)
    assert x.dtype == torch.long and x.shape == x0.shape
    changed = (x != x0).float()
    move = 1 - torch.exp(-torch.tensor([0.2, 2.0]))
    # uniform: a uniform redraw keeps the token with probability 1/N
    expected = move * (1 - 1 / graph.dim) if not graph.absorb else move
    observed = torch.stack([changed[:1000].mean(), changed[1000:].mean()])
    torch.testing.assert_close(observed, expected, rtol=0, atol=0.01)
    if graph.absorb:
        assert set(x[x != x0].unique().tolist()) == {4}
        assert (graph.sample_limit(3, 7) == 4).all()
    else:
        limit = graph.sample_limit(3, 7, generator=generator)
        assert limit.shape == (3, 7) and limit.min() >= 0 and limit.max() < 4


def test_sample_transition_is_reproducible_with_generator():
    x0 = torch.zeros(8, 50, dtype=torch.long)
    graph = UniformGraph(4)
    a = graph.sample_transition(x0, torch.ones(8, 1), generator=torch.Generator().manual_seed(3))
    b = graph.sample_transition(x0, torch.ones(8, 1), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x0)


def test_sample_categorical_frequencies():
    weights = torch.tensor([0.1, 0.0, 0.6, 0.3, -0.2]).expand(50_000, 5)
    draws = sample_categorical(weights, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).float() / draws.numel()
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.0, 0.6, 0.3, 0.0]), rtol=0, atol=0.01)


# ------------------------------------------------------------------------------------------------ score entropy
def brute_force_score_entropy(graph, log_score, sigma, x, x0):
    """sum_{y != x} Q[x, y] (s_y - r_y ln s_y + r_y (ln r_y - 1)), r_y = p_sigma(y | x0) / p_sigma(x | x0), float64."""
    N = graph.dim
    Q = graph.rate(torch.arange(N)).T.double()  # Q[y, x]
    P = torch.linalg.matrix_exp(sigma * Q)  # P[y, a] = p_sigma(y | a)
    out = torch.zeros(x.shape, dtype=torch.float64)
    for idx in torch.cartesian_prod(*(torch.arange(n) for n in x.shape)):
        idx = tuple(idx.tolist())
        xi, ai, ls = x[idx].item(), x0[idx].item(), log_score[idx].double()
        total = 0.0
        for y in range(N):
            if y == xi or Q[xi, y] == 0:
                continue
            r = P[y, ai] / P[xi, ai]
            k = r * (torch.log(r) - 1) if r > 0 else torch.tensor(0.0, dtype=torch.float64)
            total += Q[xi, y] * (ls[y].exp() - r * ls[y] + k)
        out[idx] = total
    return out


@pytest.mark.parametrize("sigma", [0.05, 0.7, 3.0])
@pytest.mark.parametrize("graph", [UniformGraph(4), AbsorbingGraph(5)], ids=repr)
def test_score_entropy_matches_definition(graph, sigma):
    generator = torch.Generator().manual_seed(1)
    x0 = torch.randint(0, 4, (3, 12), generator=generator)
    x = graph.sample_transition(x0, torch.full((3, 1), sigma), generator=generator)
    log_score = torch.randn(3, 12, graph.dim, generator=generator)
    got = graph.score_entropy(log_score, torch.full((3, 1), sigma), x, x0)
    expected = brute_force_score_entropy(graph, log_score, sigma, x, x0)
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-5)
    assert (got >= -1e-6).all()


@pytest.mark.parametrize("graph", [UniformGraph(4), AbsorbingGraph(5)], ids=repr)
def test_score_entropy_is_zero_at_true_ratios_and_ignores_self_entry(graph):
    sigma = 0.8
    Q = graph.rate(torch.arange(graph.dim)).T.double()
    P = torch.linalg.matrix_exp(sigma * Q)
    x0 = torch.tensor([[0, 1, 2, 3, 0, 1]])
    x = torch.tensor([[0, 2, 2, 1, graph.dim - 1, graph.dim - 1]])
    true = (P[:, x0[0]] / P[x[0], x0[0]]).T  # [L, N]: r_y for each position
    log_true = torch.where(true > 0, true.log(), torch.full_like(true, -60.0)).float()[None]  # s = 0 where r = 0
    loss = graph.score_entropy(log_true, torch.tensor([[sigma]]), x, x0)
    torch.testing.assert_close(loss, torch.zeros_like(loss), rtol=0, atol=1e-6)
    changed_self = log_true.scatter(-1, x[..., None], 5.0)  # l_x never enters
    torch.testing.assert_close(graph.score_entropy(changed_self, torch.tensor([[sigma]]), x, x0), loss)
