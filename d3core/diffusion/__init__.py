"""Pure-PyTorch score-entropy discrete diffusion (SEDD) math: graphs, noise schedules, loss, sampling, EMA.

Imports nothing else of ``d3core`` and no Lightning. See ``docs/d3-algorithm-spec.md`` §2, §3, §5.2 and §6.
"""
from .catsample import sample_categorical
from .ema import ExponentialMovingAverage
from .graphs import GRAPHS, AbsorbingGraph, Graph, UniformGraph, build_graph
from .loss import TRAIN_EPS, sample_times, sedd_loss
from .noise import NOISE_SCHEDULES, GeometricNoise, LogLinearNoise, build_noise
from .sampling import (
    PREDICTORS,
    analytic_probs,
    analytic_step,
    denoise_probs,
    denoise_step,
    euler_probs,
    euler_step,
    get_predictor,
    make_score_fn,
    none_step,
    sample,
)

__all__ = [
    "AbsorbingGraph",
    "ExponentialMovingAverage",
    "GRAPHS",
    "GeometricNoise",
    "Graph",
    "LogLinearNoise",
    "NOISE_SCHEDULES",
    "PREDICTORS",
    "TRAIN_EPS",
    "UniformGraph",
    "analytic_probs",
    "analytic_step",
    "build_graph",
    "build_noise",
    "denoise_probs",
    "denoise_step",
    "euler_probs",
    "euler_step",
    "get_predictor",
    "make_score_fn",
    "none_step",
    "sample",
    "sample_categorical",
    "sample_times",
    "sedd_loss",
]
