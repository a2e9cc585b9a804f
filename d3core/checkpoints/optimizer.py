"""d3's optimiser recipe -- AdamW with D3's linear learning-rate warm-up -- and its state keyed by parameter name.

Training (:mod:`d3core.training.module`), the Lightning writer (which rebuilds the scheduler of a converted run) and
checkpoint formats all take the warm-up from here, so there is one formula.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from d3core.errors import D3UserError

__all__ = ["KERNEL_KEYS", "OPTIMIZERS", "adamw_kernels", "build_optimizer", "lr_after", "optimizer_by_index",
           "optimizer_by_name", "warmup_factor", "with_kernels"]

#: ``optim.optimizer`` -> the torch class (D3 trained with AdamW)
OPTIMIZERS = {"AdamW": "AdamW"}
#: the param-group keys that choose torch's implementation of the step (not hyper-parameters: a run may change them)
KERNEL_KEYS = ("fused", "foreach")
#: Lightning precisions whose gradient clipping refuses an optimizer that unscales inside its step (fused AdamW)
_MIXED_PRECISIONS = ("16-mixed", "bf16-mixed", "16", "bf16", "transformer-engine", "transformer-engine-float16")


def warmup_factor(warmup_steps: int) -> Callable[[int], float]:
    """LambdaLR factor of D3: ``min((k + 1) / warmup, 1)`` at optimizer step k (0-based; constant afterwards, no
    decay). The original code sets ``lr * min(s / warmup, 1)`` at its 1-based step s = k + 1: the same schedule."""
    def factor(step: int) -> float:
        return 1.0 if warmup_steps <= 0 else min((step + 1) / warmup_steps, 1.0)
    return factor


def lr_after(base_lr: float, warmup_steps: int, steps: int) -> float:
    """The learning rate of the last of ``steps`` optimizer steps (``base_lr`` x the factor at step ``steps - 1``);
    what the original D3 code leaves in its optimizer's param group after ``steps`` steps."""
    return float(base_lr) * warmup_factor(warmup_steps)(int(steps) - 1)


def adamw_kernels(device_type: str, *, precision: str = "32-true", grad_clip: float = 0.0) -> dict[str, bool]:
    """The fastest implementation of AdamW's step torch has for ``device_type`` (``"cpu"``, ``"cuda"``, ...), as
    keyword arguments of ``torch.optim.AdamW``: ``{"fused": True}`` (one kernel for all parameters; CPU, CUDA, MPS,
    XPU with torch >= 2.4), else ``{"foreach": True}`` (a few multi-tensor kernels) where torch has foreach kernels for
    the device, else ``{}`` (torch's per-parameter loop).

    Under a mixed ``precision`` with gradient clipping (``grad_clip > 0``), Lightning refuses a fused optimizer (it
    unscales the gradients inside its step, after the clipping would need them), so the choice is foreach there.
    Fused and foreach steps compute the same update as the loop, up to float rounding (~1 ulp).
    """
    from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices, _get_fused_kernels_supported_devices

    fused_refused = str(precision) in _MIXED_PRECISIONS and float(grad_clip) > 0
    if device_type in _get_fused_kernels_supported_devices() and not fused_refused:
        return {"fused": True}
    if device_type in _get_foreach_kernels_supported_devices() or device_type == "cpu":
        return {"foreach": True}  # on the CPU the foreach ops loop in C++: still about twice the Python loop's speed
    return {}


def with_kernels(state: Mapping[str, Any], kernels: Mapping[str, bool]) -> dict[str, Any]:
    """A torch optimizer state dict as an optimizer built with ``kernels`` (:func:`adamw_kernels`; ``{}``: torch's
    default) loads and writes it: every group's ``fused``/``foreach`` set from ``kernels`` (None where absent), and
    the ``step`` counters on the CPU unless fused (torch moves them to the parameter's device when it loads a fused
    group). Checkpoints are written with ``{}``, so a file does not depend on the machine that wrote it (and the
    original D3 code reads it as its own); a resumed run loads it with its own kernels. A new dict; no tensor is
    changed in place."""
    fused = bool(kernels.get("fused"))
    groups = [{**group, **{key: kernels.get(key) for key in KERNEL_KEYS}} for group in state.get("param_groups", [])]
    per_parameter = {}
    for index, values in (state.get("state") or {}).items():
        step = values.get("step")
        if not fused and getattr(step, "device", None) is not None and step.device.type != "cpu":
            values = {**values, "step": step.cpu()}
        per_parameter[index] = values
    return {**state, "state": per_parameter, "param_groups": groups}


def build_optimizer(parameters: Iterable[Any], optim: Mapping[str, Any], *, kernels: Mapping[str, bool] | None = None):
    """The torch optimiser of ``optim.*`` (``optimizer``, ``lr``, ``beta1``, ``beta2``, ``eps``, ``weight_decay``);
    ``kernels`` (from :func:`adamw_kernels`) picks torch's implementation of the step (default: torch's choice)."""
    import torch

    name = str(optim.get("optimizer", "AdamW"))
    if name not in OPTIMIZERS:
        raise D3UserError(f"config optim.optimizer={name!r} is not supported; use one of: {', '.join(OPTIMIZERS)}")
    return getattr(torch.optim, OPTIMIZERS[name])(
        parameters, lr=float(optim["lr"]), betas=(float(optim["beta1"]), float(optim["beta2"])),
        eps=float(optim["eps"]), weight_decay=float(optim["weight_decay"]), **dict(kernels or {}))


def optimizer_by_name(state_dict: dict[str, Any] | None, names: list[str], *, source: str = "checkpoint"):
    """An index-keyed optimizer state dict -> the bundle's name-keyed form (counts and shapes checked)."""
    if not state_dict:
        return None
    groups = state_dict.get("param_groups") or []
    count = sum(len(g.get("params", [])) for g in groups)
    if count != len(names):
        raise D3UserError(f"{source}: the optimizer holds {count} parameters but the network has {len(names)}; "
                          "the checkpoint does not belong to this architecture/config")
    index_to_name: dict[int, str] = {}
    named_groups = []
    position = 0
    for group in groups:
        params = []
        for index in group["params"]:
            index_to_name[int(index)] = names[position]
            params.append(names[position])
            position += 1
        named_groups.append({**group, "params": params})
    state = {}
    for index, values in (state_dict.get("state") or {}).items():
        if int(index) not in index_to_name:
            raise D3UserError(f"{source}: optimizer state for parameter index {index}, beyond the "
                              f"{len(names)} parameters of the network")
        state[index_to_name[int(index)]] = values
    return {"state": state, "param_groups": named_groups}


def optimizer_by_index(named: dict[str, Any] | None, names: list[str], shapes: dict[str, tuple] | None = None,
                       *, target: str = "checkpoint") -> dict[str, Any] | None:
    """The bundle's name-keyed optimizer state -> torch's index-keyed form for a network whose parameters are
    ``names`` (in ``parameters()`` order), as one param group; moment shapes checked against ``shapes``."""
    if not named:
        return None
    index = {name: i for i, name in enumerate(names)}
    unknown = [name for name in named.get("state", {}) if name not in index]
    if unknown:
        raise D3UserError(f"{target}: optimizer moments for {len(unknown)} parameter(s) the network does not have "
                          f"(e.g. {unknown[0]}); the checkpoint belongs to another architecture")
    state = {}
    for name, values in named.get("state", {}).items():
        if shapes is not None:
            for key, value in values.items():
                if hasattr(value, "shape") and value.dim() > 0 and tuple(value.shape) != tuple(shapes[name]):
                    raise D3UserError(f"{target}: optimizer {key} of {name} has shape {tuple(value.shape)}, the "
                                      f"parameter {tuple(shapes[name])}")
        state[index[name]] = values
    groups = named.get("param_groups") or [{}]
    group = {k: v for k, v in groups[0].items() if k != "params"}
    group["params"] = list(range(len(names)))
    return {"state": dict(sorted(state.items())), "param_groups": [group]}
