"""Trainer settings d3 checks before Lightning sees them: devices and world size, the global batch, precision, the
accelerator and strategy names, the hardware, every logger and callback -- each a one-line :class:`D3UserError`."""
from __future__ import annotations

from difflib import get_close_matches
from importlib.util import find_spec

from omegaconf import DictConfig

from d3core.config import parse_devices
from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager
from d3core.training.components import callback_factory, logger_names

__all__ = ["COMMON_ACCELERATORS", "COMMON_STRATEGIES", "check_batch", "check_trainer_settings", "per_device_batch",
           "resolve_precision", "world_size"]

#: Lightning accelerator and strategy names accepted without importing Lightning's registries
COMMON_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
COMMON_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed", "single_device")


def resolve_precision(config: DictConfig) -> str:
    """``auto`` -> ``bf16-mixed`` on CUDA with bf16 support, else ``32-true``."""
    precision = str(config.lightning.precision)
    if precision != "auto":
        return precision
    import torch

    on_cuda = str(config.lightning.accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if on_cuda and torch.cuda.is_bf16_supported() else "32-true"


def world_size(config: DictConfig) -> int:
    """Processes taking part: devices x nodes (``auto`` devices: every GPU when training on GPU, else 1)."""
    devices = parse_devices(config.lightning.devices)
    if isinstance(devices, int):
        count = devices if devices > 0 else _visible_gpus()
    elif isinstance(devices, str):  # "auto"
        accelerator = str(config.lightning.accelerator)
        count = _visible_gpus() if accelerator in ("auto", "gpu", "cuda") else 1
    else:
        count = len(devices)
    return max(count, 1) * int(config.lightning.num_nodes)


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_batch(config: DictConfig) -> None:
    world, accum = world_size(config), int(config.training.accum)
    batch = int(config.training.batch_size)
    if batch % (world * accum):
        raise D3UserError(f"training.batch_size={batch} is the global batch and must divide by devices x nodes x "
                          f"accum = {world} x {accum}; choose e.g. training.batch_size={world * accum * max(1, batch // (world * accum))}")


def per_device_batch(config: DictConfig) -> int:
    return int(config.training.batch_size) // (world_size(config) * int(config.training.accum))


def check_trainer_settings(config: DictConfig, manager: D3PluginManager, *, check_hardware: bool = True) -> None:
    """What Lightning would only reject once training starts: the accelerator and strategy are known (and, with
    ``check_hardware``, the accelerator is present on this machine), every logger and callback resolves. Raises
    :class:`D3UserError`."""
    accelerator = str(config.lightning.accelerator)
    _check_registered("accelerator", accelerator, "use auto, cpu, gpu (cuda), mps or tpu")
    _check_registered("strategy", str(config.lightning.strategy),
                      "use auto (DDP on several devices), ddp, ddp_spawn, fsdp or deepspeed")
    if check_hardware:
        _check_accelerator_present(accelerator)
    for name in logger_names(config):
        manager.get("loggers", name).load()
    for name in config.callbacks:
        callback_factory(manager, str(name))


def _check_registered(kind: str, value: str, advice: str) -> None:
    """``value`` of ``lightning.<kind>`` (accelerator or strategy) is a common name, or one in Lightning's registry
    of that kind (a slow import, only for uncommon names)."""
    common = COMMON_ACCELERATORS if kind == "accelerator" else COMMON_STRATEGIES
    if value in common:
        return
    if kind == "accelerator":
        from pytorch_lightning.accelerators import AcceleratorRegistry

        registered = AcceleratorRegistry.available_accelerators()
    else:
        from pytorch_lightning.strategies import StrategyRegistry

        registered = StrategyRegistry.available_strategies()
    known = [*common, *registered]
    if value not in known:
        close = get_close_matches(value, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise D3UserError(f"lightning.{kind}={value!r} is not a Lightning {kind}; {hint}{advice}")


def _check_accelerator_present(accelerator: str) -> None:
    import torch

    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise D3UserError(f"lightning.accelerator={accelerator} (--gpus/--accelerator) but no CUDA GPU is visible "
                          "here; use --accelerator cpu, or run on a GPU node with a CUDA build of torch")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise D3UserError("lightning.accelerator=mps but Apple MPS is not available here; use --accelerator cpu")
    if accelerator == "tpu" and find_spec("torch_xla") is None:
        raise D3UserError("lightning.accelerator=tpu needs torch_xla, which is not installed; use --accelerator cpu "
                          "or gpu, or pip install torch_xla")
