"""Every entry of tests/fixtures/sedd_math_reference.pt (computed with the original D3/SEDD code, fp32) is reproduced
with relative error <= 1e-5. One test id per fixture entry."""
from pathlib import Path

import pytest
import torch

from d3core.diffusion import (
    AbsorbingGraph,
    GeometricNoise,
    LogLinearNoise,
    UniformGraph,
    PREDICTORS,
    analytic_probs,
    build_noise,
    denoise_probs,
    euler_probs,
    sample_from_score,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sedd_math_reference.pt"
REFERENCE = torch.load(FIXTURE, weights_only=True)
INPUT_KEYS = {"t", "x0", "x", "sigma", "log_score", "dsigma"}
RTOL, ATOL = 1e-5, 1e-8  # atol only absorbs exact zeros

# fixture group -> (graph, noise schedule used for the sampler probabilities); see the fixture README
GRAPHS = {
    "uniform(4)": (UniformGraph(4), GeometricNoise(sigma_min=1e-4, sigma_max=20)),
    "absorbing(4)": (AbsorbingGraph(5), LogLinearNoise(eps=1e-3)),
}
SCHEDULES = {
    "geometric(sigma_min=1e-4,sigma_max=20)": build_noise("geometric", sigma_min=1e-4, sigma_max=20),
    "loglinear(eps=1e-3)": build_noise("loglinear", eps=1e-3),
}

CASES = [
    pytest.param(group, key, id=f"{group}::{key}")
    for group, entries in REFERENCE.items()
    for key in entries
    if key not in INPUT_KEYS
]


def compute(group: str, key: str) -> torch.Tensor:
    entry = REFERENCE[group]
    if group in SCHEDULES:
        total, rate = SCHEDULES[group](entry["t"])
        return {"total_noise": total, "rate_noise": rate}[key]
    graph, noise = GRAPHS[group]
    x, x0, sigma, log_score, dsigma = (entry[k] for k in ("x", "x0", "sigma", "log_score", "dsigma"))
    score = log_score.exp()

    def score_fn(tokens, sigma_flat):
        assert sigma_flat.shape == (tokens.shape[0],)
        return score

    outputs = {  # fixture key -> the call it was computed with (fixture README)
        "rate": lambda: graph.rate(x),
        "transp_rate": lambda: graph.transp_rate(x),
        "transp_transition": lambda: graph.transp_transition(x, sigma),
        "transition": lambda: graph.transition(x, sigma),
        "staggered_score": lambda: graph.staggered_score(score, dsigma),
        "reverse_rate": lambda: graph.reverse_rate(x, score),
        "score_entropy": lambda: graph.score_entropy(log_score, sigma, x, x0),
        "euler_probs(t=0.6,dt=0.01)": lambda: euler_probs(graph, noise, score_fn, x, 0.6, 0.01),
        "analytic_probs(t=0.6,dt=0.01)": lambda: analytic_probs(graph, noise, score_fn, x, 0.6, 0.01),
        "denoise_probs(t=1e-5)": lambda: denoise_probs(graph, noise, score_fn, x, 1e-5),
    }
    return outputs[key]()


def test_fixture_has_expected_groups():
    assert set(REFERENCE) == set(GRAPHS) | set(SCHEDULES)
    assert len(CASES) == 2 * 2 + 10 + 9


@pytest.mark.parametrize("group, key", CASES)
def test_reference_entry(group, key):
    expected = REFERENCE[group][key]
    got = compute(group, key)
    assert got.shape == expected.shape
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected.to(torch.float32), rtol=RTOL, atol=ATOL)


def test_tolerance_detects_a_wrong_formula():
    """Sanity check that the comparison can fail: the uniform staggered score without s_x in the sum differs."""
    entry = REFERENCE["uniform(4)"]
    score, dsigma, x = entry["log_score"].exp(), entry["dsigma"], entry["x"]
    wrong = UniformGraph(4).staggered_score(score.scatter(-1, x[..., None], 0.0), dsigma)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(wrong, entry["staggered_score"], rtol=RTOL, atol=ATOL)


class RecordingDraws:
    """Draws that keep the weights the loop hands them (and leave the tokens unchanged)."""

    def __init__(self):
        self.weights = []

    def categorical(self, weights, step):
        self.weights.append(weights)
        return self.x


@pytest.mark.parametrize("group", list(GRAPHS))
@pytest.mark.parametrize("predictor", ["analytic", "euler"])
def test_the_one_sampler_loop_reproduces_the_predictor_outputs(group, predictor):
    """The loop every sampler runs (registry predictor at t = 0.6, dt = 0.01, then the final denoising step at
    t = 1e-5) hands the draws exactly the weights the original code computed."""
    entry = REFERENCE[group]
    graph, noise = GRAPHS[group]
    score = entry["log_score"].exp()
    draws = RecordingDraws()
    draws.x = entry["x"]
    with torch.no_grad():
        sample_from_score(lambda tokens, sigma: score, graph, noise, entry["x"], draws, steps=1,
                          predictor=predictor, start=0.6, eps=0.59)
        sample_from_score(lambda tokens, sigma: score, graph, noise, entry["x"], draws, steps=1, predictor="none",
                          start=0.6, eps=1e-5)
    step, denoised = draws.weights[0], draws.weights[-1]
    assert PREDICTORS[predictor] in (analytic_probs, euler_probs)
    torch.testing.assert_close(step, entry[f"{predictor}_probs(t=0.6,dt=0.01)"].float(), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(denoised, entry["denoise_probs(t=1e-5)"].float(), rtol=RTOL, atol=ATOL)
