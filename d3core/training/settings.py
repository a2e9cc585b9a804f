"""Trainer settings d3 checks before Lightning sees them: the global batch, the accelerator and strategy names, the
hardware, every logger and callback -- each a one-line :class:`D3UserError`; and the notes on settings that do not
apply on the machine chosen. Both read the settings resolved once (:mod:`~d3core.training.run_settings`)."""
from __future__ import annotations

from difflib import get_close_matches
from importlib.util import find_spec
from typing import Any, Callable

from omegaconf import DictConfig

from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager
from d3core.training.components import callback_factory, callback_names, logger_names
from d3core.training.run_settings import RunSettings

__all__ = ["COMMON_ACCELERATORS", "COMMON_STRATEGIES", "check_batch", "check_trainer_settings", "cpu_has_native_bf16",
           "setting_notes"]

#: Lightning accelerator and strategy names accepted without importing Lightning's registries
COMMON_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
COMMON_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed", "single_device")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); without it bf16 autocast is emulated."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def setting_notes(config: DictConfig, settings: RunSettings, manager: D3PluginManager | None = None,
                  network: Callable[[], Any] | None = None) -> list[str]:
    """One line for each setting that does not apply, or works otherwise than it reads, on this machine and run:
    bf16 on a CPU without native bf16, sync_batchnorm with one process or no BatchNorm layer, the built-in loggers'
    (W&B offline without a login, an MLflow file store). ``network()`` builds the score network (on the meta device,
    say) when a note needs to look at its layers."""
    from d3core.builtin.loggers import logger_notes

    notes = logger_notes(logger_names(config, manager), config)
    precision = settings.precision.value
    if precision.startswith("bf16") and settings.accelerator.value == "cpu" and not cpu_has_native_bf16():
        notes.append(f"lightning.precision={precision} on a CPU without native bf16 (no AVX512-BF16 or AMX): "
                     "autocast emulates it, slower than 32-true (use --precision 32-true here)")
    if bool(config.lightning.performance.sync_batchnorm):
        if settings.processes.value == "1":
            notes.append("lightning.performance.sync_batchnorm=true has no effect with one process (it "
                         "synchronises BatchNorm statistics across processes)")
        elif network is not None and _has_batchnorm(network) is False:
            notes.append(f"lightning.performance.sync_batchnorm=true has no effect: {config.arch} has no BatchNorm "
                         "layers")
    return notes


def _has_batchnorm(network: Callable[[], Any]) -> bool | None:
    """Whether the network ``network()`` builds has a BatchNorm layer; None when it cannot be built here (the run's
    own checks report that)."""
    from torch.nn.modules.batchnorm import _BatchNorm

    try:
        built = network()
    except Exception:
        return None
    return any(isinstance(module, _BatchNorm) for module in built.modules())


def check_batch(config: DictConfig, settings: RunSettings) -> None:
    """``training.batch_size`` (the global batch) divides by the processes and ``training.accum``."""
    world, accum = settings.world_size, int(config.training.accum)
    batch, step = int(config.training.batch_size), world * accum
    if batch % step:
        raise D3UserError(f"training.batch_size={batch} is the global batch and must divide by devices x nodes x "
                          f"accum = {world} x {accum}; choose e.g. training.batch_size={step * max(1, batch // step)}")


def check_trainer_settings(config: DictConfig, settings: RunSettings, manager: D3PluginManager, *,
                           check_hardware: bool = True) -> None:
    """What Lightning would only reject once training starts: the accelerator and strategy are known (and, with
    ``check_hardware``, the accelerator is present on this machine), every logger and callback resolves. Raises
    :class:`D3UserError`."""
    accelerator = settings.requested_accelerator
    _check_registered("accelerator", accelerator, "use auto, cpu, gpu (cuda), mps or tpu")
    _check_registered("strategy", settings.strategy.value,
                      "use auto (DDP on several devices), ddp, ddp_spawn, fsdp or deepspeed")
    if check_hardware:
        _check_accelerator_present(accelerator)
    for name in logger_names(config, manager):
        manager.get("loggers", name).load()
    for name in callback_names(config, manager):
        callback_factory(manager, name)


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
