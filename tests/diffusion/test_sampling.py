"""The predictor loop (spec §6): predictors, draws, the transition hook and projections."""
import math

import pytest
import torch

from d3core.diffusion import (
    PREDICTORS,
    AbsorbingGraph,
    CounterDraws,
    GeneratorDraws,
    GeometricNoise,
    LogLinearNoise,
    UniformGraph,
    denoise_probs,
    get_predictor,
    model_score_fn,
    sample,
    sample_from_score,
)

SETUPS = {
    "uniform-geometric": (UniformGraph(4), GeometricNoise()),
    "absorbing-loglinear": (AbsorbingGraph(5), LogLinearNoise()),
}


class TinyModel(torch.nn.Module):
    """A small random conditional score network following the architecture contract."""

    def __init__(self, vocab=4):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.embed = torch.nn.Parameter(torch.randn(vocab, vocab, generator=generator))
        self.label = torch.nn.Linear(2, vocab)
        self.modes = []

    def forward(self, tokens, labels, sigma):
        assert tokens.dtype == torch.long and sigma.shape == (tokens.shape[0],)
        self.modes.append(self.training)
        return self.embed[tokens] + self.label(labels)[:, None, :] - 0.1 * sigma[:, None, None]


class ExactScoreModel(torch.nn.Module):
    """Exact log-ratios log p_sigma(y) - log p_sigma(x) when every position is i.i.d. with distribution ``probs``."""

    def __init__(self, graph, probs):
        super().__init__()
        self.graph = graph
        self.register_buffer("probs", probs.double())

    def forward(self, tokens, labels, sigma):
        decay = torch.exp(-sigma.double())[:, None]  # [B, 1]
        if self.graph.absorb:
            marginal = torch.cat([decay * self.probs, 1 - decay], dim=-1)  # [B, 5]
        else:
            marginal = decay * self.probs + (1 - decay) / self.graph.dim  # [B, 4]
        log_marginal = marginal.log()[:, None, :].expand(*tokens.shape, -1)
        own = torch.gather(log_marginal, -1, tokens[..., None])
        return (log_marginal - own).float()


def test_get_predictor():
    assert set(PREDICTORS) == {"euler", "analytic", "none"}
    assert get_predictor("Analytic") is PREDICTORS["analytic"]
    with pytest.raises(ValueError, match="unknown predictor 'heun'; valid predictors: analytic, euler, none"):
        get_predictor("heun")


def test_the_predictor_table_names_every_predictor_and_knows_which_call_the_model():
    """d3core.predictors (torch-free, read by config checks and the CLI) and the step weights hold the same names,
    and a predictor "calls the model" exactly when it has step weights."""
    from d3core.predictors import PREDICTORS as TABLE

    assert list(TABLE) == list(PREDICTORS)
    assert {name: info.calls_model for name, info in TABLE.items()} == {
        name: weights is not None for name, weights in PREDICTORS.items()}


@pytest.mark.parametrize("predictor", ["analytic", "euler"])
@pytest.mark.parametrize("setup", SETUPS)
def test_sampler_recovers_a_known_distribution(setup, predictor):
    """With the exact score, the generated token frequencies match the data distribution."""
    graph, noise = SETUPS[setup]
    probs = torch.tensor([0.55, 0.05, 0.3, 0.1])
    model = ExactScoreModel(graph, probs)
    tokens = sample(model, graph, noise, (256, 16), steps=64, predictor=predictor,
                    generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(tokens.flatten(), minlength=4).double() / tokens.numel()
    torch.testing.assert_close(freq, probs.double(), rtol=0, atol=0.03)


@pytest.mark.parametrize("setup", SETUPS)
def test_sampler_output_and_reproducibility(setup):
    graph, noise = SETUPS[setup]
    model = TinyModel(graph.dim).train()
    labels = torch.randn(6, 2)
    calls = []
    kwargs = dict(labels=labels, steps=5, progress=lambda i, n: calls.append((i, n)))
    first = sample(model, graph, noise, (6, 20), generator=torch.Generator().manual_seed(7), **kwargs)
    assert first.shape == (6, 20) and first.dtype == torch.long
    assert first.min() >= 0 and first.max() < 4
    assert calls == [(i, 5) for i in range(1, 6)]
    assert model.modes and not any(model.modes) and model.training  # eval inside, restored after
    second = sample(model, graph, noise, (6, 20), generator=torch.Generator().manual_seed(7), **kwargs)
    other = sample(model, graph, noise, (6, 20), generator=torch.Generator().manual_seed(8), **kwargs)
    assert torch.equal(first, second) and not torch.equal(first, other)


class ConfidentMaskModel(torch.nn.Module):
    """Tiny ratios for every move (self log-ratio 0, as the transformer zeroes it), so the predictor leaves most
    masks in place. Has no parameters (the sampler then works on the CPU)."""

    def forward(self, tokens, labels, sigma):
        log_score = torch.full((*tokens.shape, 5), -10.0) + 0.1 * torch.randn(*tokens.shape, 5)
        return log_score.scatter(-1, tokens[..., None], 0.0)


def test_absorbing_denoise_never_outputs_the_mask():
    graph, noise = SETUPS["absorbing-loglinear"]
    model = ConfidentMaskModel()
    undenoised = sample(model, graph, noise, (64, 50), steps=2, denoise=False, generator=torch.Generator().manual_seed(0))
    assert (undenoised == 4).float().mean() > 0.5  # the predictor leaves masks behind ...
    denoised = sample(model, graph, noise, (64, 50), steps=2, generator=torch.Generator().manual_seed(0))
    assert denoised.min() >= 0 and denoised.max() < 4  # ... which the final step always replaces
    probs = denoise_probs(graph, noise, lambda x, s: torch.rand(*x.shape, 5) + 0.1, torch.full((2, 3), 4), 1e-5)
    assert probs.shape == (2, 3, 4)


def test_none_predictor_returns_the_limit_draw():
    graph, noise = SETUPS["absorbing-loglinear"]
    tokens = sample(TinyModel(5), graph, noise, (2, 9), labels=torch.zeros(2, 2), steps=3, predictor="none",
                    denoise=False)
    assert torch.equal(tokens, torch.full((2, 9), 4))


def test_bad_arguments():
    graph, noise = SETUPS["uniform-geometric"]
    with pytest.raises(ValueError, match="labels have 3 rows but batch_size is 2"):
        sample(TinyModel(), graph, noise, (2, 5), labels=torch.zeros(3, 2), steps=1)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        sample(TinyModel(), graph, noise, (2, 5), labels=torch.zeros(2, 2), steps=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sampling_on_cuda():
    graph, noise = SETUPS["uniform-geometric"]
    model = TinyModel().cuda()
    tokens = sample(model, graph, noise, (4, 8), labels=torch.randn(4, 2), steps=3,
                    generator=torch.Generator("cuda").manual_seed(0))
    assert tokens.device.type == "cuda" and tokens.shape == (4, 8)


def _loop(model, graph, noise, x, draws, **kwargs):
    with torch.no_grad():
        return sample_from_score(model_score_fn(model, torch.zeros(x.shape[0], 2)), graph, noise, x, draws, **kwargs)


def test_transition_hook_sees_each_step_and_can_replace_the_draw():
    """The per-step hook (for candidate selection) gets the step's weights; returning step.draw() changes nothing."""
    graph, noise = SETUPS["uniform-geometric"]
    model = TinyModel().eval()
    x = torch.randint(0, 4, (5, 12), generator=torch.Generator().manual_seed(0))
    plain = _loop(model, graph, noise, x, CounterDraws(3, torch.arange(5)), steps=6)
    seen = []

    def same(step):
        seen.append((step.index, round(step.t, 6), step.weights.shape))
        return step.draw()

    hooked = _loop(model, graph, noise, x, CounterDraws(3, torch.arange(5)), steps=6, transition=same)
    assert torch.equal(plain, hooked)
    assert [i for i, _, _ in seen] == list(range(6)) and seen[0][1] == 1.0 and seen[0][2] == (5, 12, 4)
    greedy = _loop(model, graph, noise, x, CounterDraws(3, torch.arange(5)), steps=6, denoise=False,
                   transition=lambda step: step.weights.argmax(dim=-1))
    again = _loop(model, graph, noise, x, CounterDraws(4, torch.arange(5)), steps=6, denoise=False,
                  transition=lambda step: step.weights.argmax(dim=-1))
    assert torch.equal(greedy, again)  # the hook's choice replaced the random draw


def test_projection_holds_fixed_positions_in_every_step():
    graph, noise = SETUPS["uniform-geometric"]
    model = TinyModel().eval()
    fixed = torch.zeros(4, 10, dtype=torch.bool)
    fixed[:, :3] = True
    template = torch.full((4, 10), 2)
    states = []

    def project(x):
        x = torch.where(fixed, template, x)
        states.append(x.clone())
        return x

    draws = CounterDraws(0, torch.arange(4))
    x = project(draws.limit(graph, 10))
    out = _loop(model, graph, noise, x, draws, steps=5, project=project)
    assert len(states) == 1 + 5 + 1  # start, every step, denoising
    assert all(bool((state[:, :3] == 2).all()) for state in states) and torch.equal(out, states[-1])
    assert (out[:, 3:] != 2).any()


def test_counter_draws_categorical_law_and_independence_of_the_batch():
    weights = torch.tensor([0.5, 0.0, -0.2, 1.5]).expand(4000, 25, 4)
    draws = CounterDraws(9, torch.arange(4000))
    picked = draws.categorical(weights, 0)
    freq = torch.bincount(picked.flatten(), minlength=4).double() / picked.numel()
    torch.testing.assert_close(freq, torch.tensor([0.25, 0.0, 0.0, 0.75], dtype=torch.float64), atol=0.01, rtol=0)
    # rows 10..19 alone draw what they draw within the whole batch
    assert torch.equal(CounterDraws(9, torch.arange(10, 20)).categorical(weights[:10], 0), picked[10:20])


def test_corrupt_keeps_tokens_with_probability_exp_minus_sigma():
    graph = UniformGraph(4)
    x0 = torch.zeros(2000, 50, dtype=torch.long)
    for draws in (CounterDraws(1, torch.arange(2000)), GeneratorDraws(2000, "cpu", torch.Generator().manual_seed(1))):
        moved = draws.corrupt(graph, x0, torch.tensor(0.5)) != 0
        # a position moves with probability 1 - e^-0.5 and then lands on one of the 3 other tokens with 3/4
        assert abs(float(moved.float().mean()) - (1 - math.exp(-0.5)) * 0.75) < 0.01
