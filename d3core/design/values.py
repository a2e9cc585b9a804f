"""The value of a partly denoised sequence: the objective of the oracle's prediction for its denoised estimate.

SVDD's posterior-mean value (spec §5): for tokens ``x_s`` at time ``s``, the final-denoising step applied at ``s``
gives ``p(x0 | x_s)`` per position; its mean one-hot ``E[onehot(x0) | x_s]`` (``estimate="mean"``, the default) or its
most likely sequence (``estimate="mode"``) goes through the oracle, and the objective of the prediction is the value.
Fixed template positions are put back into the estimate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from d3core.design.objective import Objective
from d3core.diffusion import denoise_probs
from d3core.errors import D3UserError

ESTIMATES = ("mean", "mode")


def template_of(project: Callable[[torch.Tensor], torch.Tensor] | None, x: torch.Tensor) -> torch.Tensor | None:
    """The fixed tokens of a projection as ``[B, L]`` (-1 where free), or None without one.

    A projection puts template tokens (0..3) where positions are fixed and keeps the rest, so projecting ``-1``
    everywhere shows which positions it fixes.
    """
    if project is None:
        return None
    return project(torch.full_like(x, -1))


def denoised_one_hot(graph, noise, score_fn, x: torch.Tensor, s: float, *, estimate: str = "mean",
                     fixed: torch.Tensor | None = None) -> torch.Tensor:
    """The denoised estimate of tokens ``x [N, L]`` at time ``s`` as a float one-hot ``[N, 4, L]`` (rows of it sum
    to 1 over the 4 letters): the mean of ``p(x0 | x_s)`` or its most likely letters; template positions exact.

    ``fixed``: :func:`template_of` the run's projection, ``[B, L]`` rows broadcast over ``N = k * B`` rows
    (candidate-major).
    """
    probs = denoise_probs(graph, noise, score_fn, x, torch.tensor(float(s), device=x.device)).float().clamp(min=0)
    probs = probs[..., :4]
    if estimate == "mode":
        probs = torch.nn.functional.one_hot(probs.argmax(dim=-1), 4).float()
    else:
        probs = probs / probs.sum(dim=-1, keepdim=True).clamp(min=1e-30)
    if fixed is not None:
        rows = fixed.shape[0]
        view = probs.view(-1, rows, *probs.shape[1:])
        given = torch.nn.functional.one_hot(fixed.clamp(min=0), 4).float()
        view = torch.where((fixed >= 0).unsqueeze(-1), given, view)
        probs = view.reshape(probs.shape)
    return probs.permute(0, 2, 1)


@dataclass
class OracleValue:
    """``values(one_hot [N, 4, L]) -> [N]``: the objective of the oracle's predictions (float64, on the input's
    device); ``predict`` gives the predictions ``[N, C]`` themselves."""

    oracle: object
    objective: Objective

    def predict(self, one_hot: torch.Tensor) -> torch.Tensor:
        predictions = self.oracle.predict(one_hot.detach())
        return torch.as_tensor(predictions, dtype=torch.float32).to(one_hot.device)

    def __call__(self, one_hot: torch.Tensor) -> torch.Tensor:
        return self.objective(self.predict(one_hot), unit="candidate")


def check_estimate(estimate: str) -> str:
    value = str(estimate).lower()
    if value not in ESTIMATES:
        raise D3UserError(f"--value-estimate {estimate!r}: use one of {', '.join(ESTIMATES)}")
    return value
