"""Pure-PyTorch score-entropy discrete diffusion (SEDD) math: graphs, noise schedules, loss, sampling, EMA.

Imports nothing else of ``d3core`` and no Lightning. The original D3/SEDD code's math, checked number for number
against ``tests/fixtures/sedd_math_reference.pt`` (``tests/diffusion/test_reference_fixture.py``).
"""
from .catsample import sample_categorical
from .ema import ExponentialMovingAverage
from .graphs import GRAPHS, AbsorbingGraph, Graph, UniformGraph, build_graph
from .loss import TRAIN_EPS, sample_times, sedd_loss
from .noise import NOISE_SCHEDULES, GeometricNoise, LogLinearNoise, build_noise
from .randomness import CounterDraws, GeneratorDraws
from .sampling import (
    PREDICTORS,
    SAMPLING_EPS,
    Step,
    analytic_probs,
    denoise_probs,
    euler_probs,
    get_predictor,
    sample,
    sample_from_score,
)
from .scores import guided_score_fn, model_score_fn

__all__ = [
    "AbsorbingGraph",
    "analytic_probs",
    "build_graph",
    "build_noise",
    "CounterDraws",
    "denoise_probs",
    "euler_probs",
    "ExponentialMovingAverage",
    "GeneratorDraws",
    "GeometricNoise",
    "get_predictor",
    "Graph",
    "GRAPHS",
    "guided_score_fn",
    "LogLinearNoise",
    "model_score_fn",
    "NOISE_SCHEDULES",
    "PREDICTORS",
    "sample",
    "sample_categorical",
    "sample_from_score",
    "sample_times",
    "SAMPLING_EPS",
    "sedd_loss",
    "Step",
    "TRAIN_EPS",
    "UniformGraph",
]
