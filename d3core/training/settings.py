"""Trainer settings d3 checks before Lightning sees them: devices and world size, the global batch, precision, the
accelerator and strategy names, the hardware, every logger and callback -- each a one-line :class:`D3UserError`;
the settings as the run will resolve them (what a dry run reports, with what this machine cannot know), and the
notes on settings that do not apply on the machine chosen."""
from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from importlib.util import find_spec
from typing import Any, Callable

from omegaconf import DictConfig

from d3core.config import parse_devices
from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager
from d3core.training.components import callback_factory, callback_names, logger_names

__all__ = ["COMMON_ACCELERATORS", "COMMON_STRATEGIES", "Resolved", "check_batch", "check_trainer_settings",
           "cpu_has_native_bf16", "per_device_batch", "resolve_precision", "resolve_strategy", "resolved_accelerator",
           "resolved_devices", "setting_notes", "world_size"]

#: Lightning accelerator and strategy names accepted without importing Lightning's registries
COMMON_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
COMMON_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed", "single_device")


@dataclass(frozen=True)
class Resolved:
    """A trainer setting as the run will use it: ``value``, and ``caveat`` when this machine cannot confirm it (a
    dry run on a login node without the GPUs the job will have)."""

    value: str
    caveat: str = ""

    def __str__(self) -> str:
        return f"{self.value} ({self.caveat})" if self.caveat else self.value


def _cuda_here() -> bool:
    import torch

    return torch.cuda.is_available()


def resolved_accelerator(config: DictConfig) -> Resolved:
    """``lightning.accelerator`` as Lightning picks it: ``auto`` -> ``gpu`` when CUDA is visible (``mps`` on Apple),
    else ``cpu``."""
    accelerator = str(config.lightning.accelerator)
    if accelerator == "auto":
        import torch

        if _cuda_here():
            return Resolved("gpu")
        if torch.backends.mps.is_available():
            return Resolved("mps")
        return Resolved("cpu", "auto: no GPU visible here")
    if accelerator in ("gpu", "cuda") and not _cuda_here():
        return Resolved("gpu", "no GPU visible here, so the GPUs themselves are not checked")
    return Resolved(accelerator)


def _on_gpu(config: DictConfig) -> bool:
    return resolved_accelerator(config).value in ("gpu", "cuda")


def resolved_devices(config: DictConfig) -> Resolved:
    """Processes the run starts: devices x nodes (``auto`` devices on GPUs: the visible GPUs)."""
    nodes = int(config.lightning.num_nodes)
    if _on_gpu(config) and not _cuda_here() and parse_devices(config.lightning.devices) in ("auto", -1):
        return Resolved("one per GPU of the node" + (f" x {nodes} nodes" if nodes > 1 else ""),
                        "no GPU visible here to count")
    return Resolved(str(world_size(config)))


def resolve_strategy(config: DictConfig) -> Resolved:
    """``lightning.strategy``; ``auto`` is DDP for more than one process (one device: Lightning's single-device
    strategy)."""
    strategy = str(config.lightning.strategy)
    if strategy != "auto":
        return Resolved(strategy)
    if _on_gpu(config) and not _cuda_here() and parse_devices(config.lightning.devices) in ("auto", -1):
        return Resolved("ddp", "if the node has more than one GPU, else single device")
    return Resolved("ddp") if world_size(config) > 1 else Resolved("auto", "one process: a single device")


def _architecture_precision(config: DictConfig) -> str | None:
    """The ``auto_precision`` of the run's architecture (Conv: ``32-true``), None when it has none or is unknown."""
    from d3core.errors import PluginError
    from d3core.plugins import get_plugin_manager

    if not config.get("arch"):
        return None
    try:
        return getattr(get_plugin_manager().architecture(str(config.arch)), "auto_precision", None)
    except PluginError:
        return None


def resolve_precision(config: DictConfig) -> Resolved:
    """``lightning.precision``; ``auto`` -> the architecture's ``auto_precision`` on a GPU when it has one (Conv
    trains in fp32, as the original), else ``bf16-mixed`` on CUDA GPUs with bf16 support, else ``32-true``. On GPUs
    that are not visible here (a dry run on a login node), the answer says what decides it."""
    precision = str(config.lightning.precision)
    if precision != "auto":
        return Resolved(precision)
    if not _on_gpu(config):
        return Resolved("32-true")
    own = _architecture_precision(config)
    if own is not None:
        return Resolved(own, f"auto: {config.arch} trains in {own}, as the original did; --precision bf16-mixed "
                             "changes it")
    if not _cuda_here():
        return Resolved("bf16-mixed", "auto: on GPUs with bf16 (compute capability 8.0+: A100, H100, ...), else "
                                      "32-true; no GPU here to ask")
    import torch

    return Resolved("bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); without it bf16 autocast is emulated."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def setting_notes(config: DictConfig, manager: D3PluginManager | None = None,
                  network: Callable[[], Any] | None = None) -> list[str]:
    """One line for each setting that does not apply, or works otherwise than it reads, on this machine and run:
    bf16 on a CPU without native bf16, sync_batchnorm with one process or no BatchNorm layer, the built-in loggers'
    (W&B offline without a login, an MLflow file store). ``network()`` builds the score network (on the meta device,
    say) when a note needs to look at its layers."""
    from d3core.builtin.loggers import logger_notes

    notes = logger_notes(logger_names(config, manager), config)
    precision = resolve_precision(config).value
    if precision.startswith("bf16") and resolved_accelerator(config).value == "cpu" and not cpu_has_native_bf16():
        notes.append(f"lightning.precision={precision} on a CPU without native bf16 (no AVX512-BF16 or AMX): "
                     "autocast emulates it, slower than 32-true (use --precision 32-true here)")
    if bool(config.lightning.performance.sync_batchnorm):
        if resolved_devices(config).value == "1":
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
