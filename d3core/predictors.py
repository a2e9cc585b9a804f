"""The predictor table: every reverse-diffusion predictor ``--predictor`` and ``sampling.predictor`` accept.

Torch-free, so config validation, ``d3 sample`` and ``d3 design`` read their choice lists here without importing the
diffusion math; :data:`d3core.diffusion.PREDICTORS` maps each name to its step weights
(``tests/diffusion/test_sampling.py`` checks that the two hold the same names).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PredictorInfo:
    """What the choice lists need to know of one predictor: ``about`` (one line for ``--help``) and whether a step
    calls the model (``calls_model``: guided design steers the model's steps, so it takes only those)."""

    about: str
    calls_model: bool = True


#: name -> what it is; the order is the order of every choice list (the first is not the default: see sampling.md)
PREDICTORS: dict[str, PredictorInfo] = {
    "analytic": PredictorInfo("Tweedie tau-leaping, the one D3 generated with"),
    "euler": PredictorInfo("first-order Euler step of the reverse rates"),
    "none": PredictorInfo("identity: the tokens stay, only the final denoising step calls the model",
                          calls_model=False),
}


def predictor_names(*, calls_model: bool = False) -> tuple[str, ...]:
    """The predictors' names, in table order; ``calls_model=True``: only those whose steps call the model (the
    choices of guided design)."""
    return tuple(name for name, info in PREDICTORS.items() if info.calls_model or not calls_model)
