"""benchmarks/training_speed*.py: the model FLOPs behind their FLOP/s and MFU figures, and their tables.

The FLOP count is checked against the transformer's own arithmetic, so a counter that missed the attention (CPU flash
attention is not in ``FlopCounterMode``'s table) or counted the backward once would fail here.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from d3_arch_tran.model import TranArchitecture

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the paired script imports the single one by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def speed():
    return _script("training_speed")


@pytest.fixture(scope="module")
def paired(speed):
    return _script("training_speed_paired")


def transformer_flops(hidden: int, blocks: int, cond: int, length: int = 249, tokens: int = 4, labels: int = 2) -> int:
    """FLOPs of one sequence's forward + backward through D3-Tran, from its shapes.

    Per token: q/k/v, output and MLP products (2 x 12 H^2 per block) and the head (2 H V); per sequence: attention
    (QK^T and AV, 4 L^2 H per block; torch counts its backward as 2.5x the forward), the adaLN maps, the sigma and
    label embeddings. Backward = 2x forward for every product (input and weight gradients).
    """
    per_token = blocks * 24 * hidden * hidden + 2 * hidden * tokens
    attention = blocks * 4 * length * length * hidden
    per_sequence = blocks * 2 * cond * 6 * hidden + 2 * cond * 2 * hidden + 2 * 256 * cond + 2 * cond * cond \
        + 2 * labels * hidden
    return int(3 * per_token * length + 3.5 * attention + 3 * per_sequence)


def test_model_flops_match_the_transformer_arithmetic(speed):
    sizes = TranArchitecture.preset("tiny")
    counted = speed.model_flops("Tran", "tiny", 1)
    expected = transformer_flops(sizes["hidden_size"], sizes["n_blocks"], sizes["cond_dim"])
    # the only difference: the first products of the label and sigma embeddings need no input gradient
    assert counted == pytest.approx(expected, rel=1e-3)


def test_table_shows_eager_compiled_and_original_side_by_side(speed):
    runs = {code: [{"first_s": 2.0, "step_s": [s, s]}] for code, s in
            (("d3-eager", 0.5), ("d3-compiled", 0.4), ("original", 0.8))}
    row = speed._summary("Tran", "tiny", 32, runs, loads=[1.0, 1.5], peak=None)
    assert row["d3-eager_over_original_median"] == 0.625 and row["d3-compiled_over_eager_median"] == 0.8
    assert "| 0.500 | 0.400 | 0.800 | 0.8 | 0.625 | 0.5 |" in speed.table({"device": "cpu", "results": [row]})


def test_paired_floor_follows_the_matrix_product_rate_of_each_triple(paired):
    """A machine twice as slow in the second triple: the floor / original ratio stays what it is."""
    rate = 1e11
    flops = paired.single.model_flops("Tran", "tiny", 1) * 32
    floor = flops / rate
    measured = {"first_step_s": {"d3-eager": 1.0, "d3-compiled": 30.0, "original": 1.0},
                "step_s": {"d3-eager": [2 * floor, 4 * floor, 2 * floor], "d3-compiled": [2 * floor] * 3,
                           "original": [4 * floor, 8 * floor, 4 * floor]},
                "matmul_flops_per_second": [rate, rate / 2, rate]}
    row = paired.summarize("Tran", "tiny", 32, measured)
    assert row["ratios"]["matmul_floor/original"] == 0.25
    assert row["fraction_of_matmul_rate"] == {"d3-eager": 0.5, "d3-compiled": 0.5, "original": 0.25}
    assert row["ratios"]["d3-eager/original"]["median"] == 0.5
    assert "| 0.50 / 0.50 / 0.25 |" in paired.table({"results": [row]})


def test_matmul_rate_is_a_measured_rate(paired):
    assert 1e8 < paired.matmul_rate() < 1e14  # a real product's rate, not a constant
