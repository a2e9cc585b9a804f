"""Fixtures of the scoring tests: score models wrapped as :class:`SamplingModel` without a checkpoint file."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from d3core.diffusion import GeometricNoise, UniformGraph
from d3core.generation.api import SamplingModel


class IidExactScore(torch.nn.Module):
    """The exact log-ratios of sequences whose positions are i.i.d. with distribution ``probs [4]`` (uniform graph):
    the bound of such a model is ``-sum_i log probs[x_i]`` up to Monte Carlo error."""

    def __init__(self, probs):
        super().__init__()
        self.register_buffer("probs", torch.as_tensor(probs, dtype=torch.float64))

    def forward(self, tokens, labels, sigma):
        decay = torch.exp(-sigma.double())[:, None]
        log_marginal = (decay * self.probs + (1 - decay) / 4).log()[:, None, :].expand(*tokens.shape, -1)
        return (log_marginal - torch.gather(log_marginal, -1, tokens[..., None])).float()


def wrap(network, length: int, *, num_labels: int = 0, label_names=None, label_mode: str = "global") -> SamplingModel:
    """``network`` as a :class:`SamplingModel` on the CPU (geometric noise 1e-4 .. 20, uniform graph over ACGT)."""
    config = {"model": {"length": length, "num_labels": num_labels,
                        "label_mode": label_mode if num_labels else "none"}}
    return SamplingModel(model=network.eval(), graph=UniformGraph(4), noise=GeometricNoise(1e-4, 20.0), config=config,
                         checkpoint=Path("test.ckpt"), checkpoint_format="test", device="cpu",
                         label_names=list(label_names or [f"label{i}" for i in range(num_labels)]))


@pytest.fixture
def wrap_model():
    return wrap


@pytest.fixture
def iid_exact():
    return IidExactScore
