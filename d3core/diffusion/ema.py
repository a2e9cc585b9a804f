"""Exponential moving average of model parameters, keyed by parameter name (spec §5.2).

After the n-th update the decay is ``d = min(decay, (1 + n) / (10 + n))`` (warm-up) and every shadow moves as
``shadow <- shadow - (1 - d) (shadow - param)``. Only parameters with ``requires_grad=True`` at construction are
tracked. Unlike the original (a positional list), the state is a dict by parameter name, so it survives changes in
parameter order and can be checked name by name.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


class ExponentialMovingAverage:
    """EMA of ``model``'s trainable parameters.

    Args:
        model: the module whose ``named_parameters()`` with ``requires_grad`` are tracked (shadows start as copies).
        decay: the target decay (0.9999 in D3).
        warmup: use the ``(1 + n) / (10 + n)`` warm-up (as in D3); False = constant ``decay``.

    Shadows follow their parameter's device on ``update``/``copy_to`` (so the EMA can be built before the model is
    moved to the GPU).
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.9999, *, warmup: bool = True):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {
            name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad
        }
        self._backup: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------------------------------------- helpers
    def current_decay(self, num_updates: int | None = None) -> float:
        """Decay used by the update that brings the counter to ``num_updates`` (default: the last one)."""
        n = self.num_updates if num_updates is None else num_updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    def _tracked(self, model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
        params = dict(model.named_parameters())
        missing = [name for name in self.shadow if name not in params]
        if missing:
            raise KeyError(
                f"EMA tracks {len(missing)} parameter(s) the model does not have: {missing[:5]}"
                f"{' ...' if len(missing) > 5 else ''}; was the EMA built for another model?"
            )
        return {name: params[name] for name in self.shadow}

    # ------------------------------------------------------------------------------------------------- updates
    def update(self, model: torch.nn.Module) -> None:
        """Move the shadows towards the current parameters (call once after each optimizer step).

        Three ``torch._foreach`` operations over all shadows at once (``shadow -= (1 - d) (shadow - param)``, rounded
        exactly as the per-tensor form), not a Python loop of three kernels per parameter; the temporaries of all
        parameters exist together (about twice the model's size, briefly)."""
        self.num_updates += 1
        one_minus_decay = 1.0 - self.current_decay()
        params = list(self._tracked(model).values())
        if any(s.device != p.device for s, p in zip(self.shadow.values(), params)):
            self.shadow = {name: s.to(p.device) for (name, s), p in zip(self.shadow.items(), params)}
        shadows = list(self.shadow.values())
        with torch.no_grad():  # out-of-place mul: torch's in-place foreach mul rounds the factor to bf16 first
            torch._foreach_sub_(shadows, torch._foreach_mul(torch._foreach_sub(shadows, params), one_minus_decay))

    def store(self, model: torch.nn.Module) -> None:
        """Keep a copy of the current (raw) parameters for :meth:`restore`."""
        self._backup = {name: p.detach().clone() for name, p in self._tracked(model).items()}

    def copy_to(self, model: torch.nn.Module) -> None:
        """Write the shadows into the model's parameters."""
        with torch.no_grad():
            for name, param in self._tracked(model).items():
                param.copy_(self.shadow[name])

    def restore(self, model: torch.nn.Module) -> None:
        """Write back the parameters saved by :meth:`store`."""
        if self._backup is None:
            raise RuntimeError("EMA.restore() called without a preceding store()")
        with torch.no_grad():
            for name, param in self._tracked(model).items():
                param.copy_(self._backup[name])
        self._backup = None

    @contextmanager
    def swapped_in(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """``with ema.swapped_in(model): ...`` runs the block with EMA weights and restores the raw ones after."""
        self.store(model)
        self.copy_to(model)
        try:
            yield model
        finally:
            self.restore(model)

    def to(self, device=None, dtype=None) -> "ExponentialMovingAverage":
        """Move the shadows (floating-point dtype changes only apply to floating tensors)."""
        self.shadow = {
            name: s.to(device=device, dtype=dtype if (dtype is not None and s.is_floating_point()) else None)
            for name, s in self.shadow.items()
        }
        return self

    # ------------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{"decay": float, "num_updates": int, "shadow": {name: tensor}}`` (tensors are not copied);
        loadable with ``torch.load(weights_only=True)``."""
        return {"decay": self.decay, "num_updates": int(self.num_updates), "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Load a :meth:`state_dict`. With ``strict``, the names must match the tracked parameters exactly; shapes
        must always match. Shadows keep their current device."""
        for key in ("decay", "num_updates", "shadow"):
            if key not in state:
                raise KeyError(f"EMA state is missing {key!r} (has {sorted(state)})")
        shadow = state["shadow"]
        missing = sorted(set(self.shadow) - set(shadow))
        unexpected = sorted(set(shadow) - set(self.shadow))
        if strict and (missing or unexpected):
            raise KeyError(f"EMA state does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
        for name, value in shadow.items():
            if name not in self.shadow:
                continue
            if tuple(value.shape) != tuple(self.shadow[name].shape):
                raise ValueError(
                    f"EMA shadow {name!r} has shape {tuple(value.shape)}, the model's parameter "
                    f"{tuple(self.shadow[name].shape)}"
                )
            self.shadow[name] = value.detach().to(device=self.shadow[name].device, dtype=self.shadow[name].dtype).clone()
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"] or 0)
