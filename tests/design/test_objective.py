"""The --objective language: arithmetic over label names, parsed with ast, never evaluated by Python."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from d3core.design import parse_objective
from d3core.errors import D3UserError

NAMES = ["dev", "hk"]
PREDICTIONS = np.array([[4.0, 0.0], [2.0, 1.0], [6.0, 3.0]])


@pytest.mark.parametrize("text, expected", [
    ("dev", [4, 2, 6]),
    ("dev - hk", [4, 1, 3]),
    ("-(dev - 4)^2", [0, -4, -4]),
    ("-(dev - 4)**2", [0, -4, -4]),
    ("min(dev, 5) - 0.5*hk", [4, 1.5, 3.5]),
    ("max(dev, hk, 5)", [5, 5, 6]),
    ("abs(hk - 1) / 2", [0.5, 0, 1]),
    ("2^3 + dev*0", [8, 8, 8]),
    ("-dev^2", [-16, -4, -36]),
    ("1e-1 * dev + +hk", [0.4, 1.2, 3.6]),
])
def test_objectives_evaluate_like_arithmetic(text, expected):
    objective = parse_objective(text, NAMES)
    np.testing.assert_allclose(objective(PREDICTIONS), expected)
    np.testing.assert_allclose(objective(torch.tensor(PREDICTIONS)).numpy(), expected)


def test_the_names_used_are_recorded():
    assert parse_objective("dev - 0.5*hk + dev", NAMES).names == ("dev", "hk")


@pytest.mark.parametrize("text, message", [
    ("dev + foo", "unknown name 'foo'; the oracle predicts dev, hk"),
    ("min", "unknown name 'min' (a function: call it"),
    ("__import__('os').system('true')", "is not allowed"),
    ("dev.real", "is not allowed"),
    ("[dev][0]", "is not allowed"),
    ("dev if hk else 0", "is not allowed"),
    ("lambda: dev", "is not allowed"),
    ("dev > hk", "is not allowed"),
    ("'dev'", "is not allowed"),
    ("min(dev)", "min() takes two or more arguments"),
    ("abs(dev, hk)", "abs() takes one argument"),
    ("exp(dev)", "is not allowed"),
    ("dev +", "not an expression"),
    ("", "empty"),
])
def test_anything_else_is_a_one_line_error(text, message):
    with pytest.raises(D3UserError) as info:
        parse_objective(text, NAMES)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("dev + 2^1000000", "'2^1000000' is not a finite real number"),
    ("dev + 1/0", "'1/0' divides by zero"),
    ("dev * 1e999", "'1e999' is not a finite real number"),
    ("dev + (-8)^0.5", "'(-8)^0.5' is not a finite real number"),
    ("max(dev, 10^400)", "'10^400' is not a finite real number"),
])
def test_constant_parts_that_overflow_are_refused_before_anything_runs(text, message):
    with pytest.raises(D3UserError, match="use numbers whose arithmetic stays finite") as info:
        parse_objective(text, NAMES)
    assert f"--objective {text!r}: {message}" in str(info.value)


@pytest.mark.parametrize("text, value", [("dev / hk", "inf"), ("hk / hk", "nan"), ("dev^1000", "inf")])
def test_a_value_that_is_not_finite_names_the_objective_and_the_design(text, value):
    objective = parse_objective(text, NAMES)
    predictions = np.array([[4.0, 1.0], [2.0, 0.0]]) if text != "dev^1000" else np.array([[1.0, 1.0], [6.0, 3.0]])
    for given in (predictions, torch.tensor(predictions)):
        with pytest.raises(D3UserError) as info:
            objective(given, first=10, unit="design")
        message = str(info.value)
        assert message.startswith(f"--objective {text!r} is {value} for design 11 (the oracle predicts dev=")
        assert "write an objective that stays finite" in message and "\n" not in message
