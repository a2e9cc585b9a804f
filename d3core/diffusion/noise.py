"""Noise schedules sigma(t) for t in [0, 1] (spec §2.1).

A schedule is called on diffusion times ``t`` (any shape, float) and returns the pair
``(total_noise, rate_noise)`` = ``(sigma(t), dsigma/dt(t))``, both with the shape, dtype and device of ``t``.
``total_noise`` is the integrated rate of the CTMC (dimensionless); ``rate_noise`` is its time derivative (per unit t).

Schedules hold no ``nn.Parameter``: the original's dummy ``empty`` parameter exists only in legacy checkpoints and is
mapped by the checkpoint converter, never here.
"""
from __future__ import annotations

import torch


def _as_time(t) -> torch.Tensor:
    """Diffusion time as a floating tensor (numbers and integer tensors become the default float dtype)."""
    t = torch.as_tensor(t)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


class GeometricNoise:
    """Geometric schedule: ``sigma(t) = sigma_min^(1-t) * sigma_max^t``, ``sigma'(t) = sigma(t) * ln(sigma_max/sigma_min)``.

    The only schedule used by D3 (``sigma_min=1e-4``, ``sigma_max=20``).
    """

    name = "geometric"

    def __init__(self, sigma_min: float = 1e-4, sigma_max: float = 20.0):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(
                f"GeometricNoise needs 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}"
            )
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self._endpoints: dict[tuple, torch.Tensor] = {}  # (device, dtype) -> tensor([sigma_min, sigma_max])

    def _sigmas(self, t: torch.Tensor) -> torch.Tensor:
        """The endpoints as a tensor on ``t``'s device and dtype (cached: no host-to-device copy per call)."""
        key = (t.device, t.dtype)
        if key not in self._endpoints:
            self._endpoints[key] = torch.tensor([self.sigma_min, self.sigma_max], dtype=t.dtype, device=t.device)
        return self._endpoints[key]

    def total_noise(self, t: torch.Tensor) -> torch.Tensor:
        """sigma(t), same shape as ``t``."""
        sigmas = self._sigmas(t)
        return sigmas[0] ** (1 - t) * sigmas[1] ** t

    def rate_noise(self, t: torch.Tensor) -> torch.Tensor:
        """dsigma/dt at ``t``, same shape as ``t``."""
        sigmas = self._sigmas(t)
        return sigmas[0] ** (1 - t) * sigmas[1] ** t * (sigmas[1].log() - sigmas[0].log())

    def __call__(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sigma(t), dsigma/dt(t))``, each with the shape of ``t``."""
        t = _as_time(t)
        return self.total_noise(t), self.rate_noise(t)

    def __repr__(self) -> str:
        return f"GeometricNoise(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"


class LogLinearNoise:
    """Log-linear schedule (SEDD; meant for the absorbing graph):
    ``sigma(t) = -log(1 - (1-eps) t)``, ``sigma'(t) = (1-eps) / (1 - (1-eps) t)``.

    At t = 1 the probability of still being unmasked is ``eps``.
    """

    name = "loglinear"

    def __init__(self, eps: float = 1e-3):
        if not 0 < eps < 1:
            raise ValueError(f"LogLinearNoise needs 0 < eps < 1, got eps={eps}")
        self.eps = float(eps)

    def total_noise(self, t: torch.Tensor) -> torch.Tensor:
        """sigma(t), same shape as ``t``."""
        return -torch.log1p(-(1 - self.eps) * t)

    def rate_noise(self, t: torch.Tensor) -> torch.Tensor:
        """dsigma/dt at ``t``, same shape as ``t``."""
        return (1 - self.eps) / (1 - (1 - self.eps) * t)

    def __call__(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sigma(t), dsigma/dt(t))``, each with the shape of ``t``."""
        t = _as_time(t)
        return self.total_noise(t), self.rate_noise(t)

    def __repr__(self) -> str:
        return f"LogLinearNoise(eps={self.eps})"


NOISE_SCHEDULES = {"geometric": GeometricNoise, "loglinear": LogLinearNoise}


def build_noise(type: str, **kwargs) -> GeometricNoise | LogLinearNoise:
    """Build a schedule by name (``"geometric"`` or ``"loglinear"``, case-insensitive).

    Keyword arguments go to the constructor (``sigma_min``/``sigma_max`` or ``eps``); unknown ones raise TypeError.
    """
    key = str(type).lower().replace("-", "").replace("_", "")
    if key not in NOISE_SCHEDULES:
        raise ValueError(f"unknown noise type {type!r}; valid types: {', '.join(sorted(NOISE_SCHEDULES))}")
    cls = NOISE_SCHEDULES[key]
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise TypeError(f"bad arguments for noise type {type!r}: {err}") from None
