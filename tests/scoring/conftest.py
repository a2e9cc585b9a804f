"""Fixtures of the scoring tests: score networks wrapped as a :class:`SamplingModel` without a checkpoint file (the
exact i.i.d. score ``exact_model`` and the trained models are in tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from d3core.diffusion import GeometricNoise, UniformGraph
from d3core.generation.sampling_model import SamplingModel


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
