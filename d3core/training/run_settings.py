"""The run's trainer settings resolved once, from the assembled config and this machine: :class:`RunSettings`.

``plan_run`` resolves them (one look at the hardware, one parse of ``lightning.devices``) and keeps them on the
plan; the Trainer, the data module, the notes and the dry run read them from there and never re-derive them from
the config. Values this machine cannot confirm (a dry run on a login node without the job's GPUs) carry a caveat.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from omegaconf import DictConfig

from d3core.config import parse_devices
from d3core.training.compile import CompileChoice

__all__ = ["Resolved", "RunSettings", "resolve_run_settings"]


@dataclass(frozen=True)
class Resolved:
    """A trainer setting as the run will use it: ``value``, and ``caveat`` when this machine cannot confirm it (a
    dry run on a login node without the GPUs the job will have)."""

    value: str
    caveat: str = ""

    def __str__(self) -> str:
        return f"{self.value} ({self.caveat})" if self.caveat else self.value


@dataclass(frozen=True)
class RunSettings:
    """What the Trainer and the data loaders get, resolved once for this run on this machine.

    ``accelerator``/``strategy``/``precision``: ``lightning.*`` as the run resolves them (``auto`` included);
    ``processes``: devices x nodes in words (what a dry run shows); ``world_size``: the same as a number (1 per node
    where GPUs cannot be counted here); ``requested_accelerator`` and ``devices``: ``lightning.accelerator`` as
    written and ``lightning.devices`` parsed (``"auto"``, a count, ``-1`` or indices), both handed to Lightning
    unchanged; ``per_device_batch``/``per_device_eval_batch``: sequences per process and step; ``seed``: the run's
    seed; ``compile``: whether the training forward runs through ``torch.compile`` (chosen last, once the other
    settings passed their checks).
    """

    requested_accelerator: str
    accelerator: Resolved
    devices: str | int | list[int]
    num_nodes: int
    world_size: int
    processes: Resolved
    strategy: Resolved
    precision: Resolved
    per_device_batch: int
    per_device_eval_batch: int
    seed: int
    compile: CompileChoice = field(default=CompileChoice(False, "not chosen yet"))

    @property
    def on_gpu(self) -> bool:
        return self.accelerator.value in ("gpu", "cuda")

    @property
    def device_type(self) -> str:
        """torch's name of the device the run trains on: ``cuda``, ``cpu``, ``mps``, ..."""
        return "cuda" if self.on_gpu else self.accelerator.value


def _cuda_here() -> bool:
    import torch

    return torch.cuda.is_available()


def _visible_gpus(cuda: bool) -> int:
    import torch

    return torch.cuda.device_count() if cuda else 0


def resolve_run_settings(config: DictConfig) -> RunSettings:
    """The :class:`RunSettings` of ``config`` on this machine (CUDA is asked once). ``compile`` is left unchosen:
    :func:`~d3core.training.compile.choose_compile` needs the network, and the plan sets it with
    ``dataclasses.replace`` once the other settings passed their checks."""
    lightning = config.lightning
    cuda = _cuda_here()
    requested = str(lightning.accelerator)
    devices = parse_devices(lightning.devices)
    nodes = int(lightning.num_nodes)
    accelerator = _accelerator(requested, cuda)
    on_gpu = accelerator.value in ("gpu", "cuda")
    uncounted = on_gpu and not cuda and devices in ("auto", -1)  # GPUs of a node this machine cannot count
    world = _world_size(requested, devices, nodes, cuda)
    processes = Resolved("one per GPU of the node" + (f" x {nodes} nodes" if nodes > 1 else ""),
                         "no GPU visible here to count") if uncounted else Resolved(str(world))
    accum = int(config.training.accum)
    return RunSettings(
        requested_accelerator=requested, accelerator=accelerator, devices=devices, num_nodes=nodes,
        world_size=world, processes=processes, strategy=_strategy(str(lightning.strategy), world, uncounted),
        precision=_precision(config, on_gpu, cuda), per_device_batch=int(config.training.batch_size) // (world * accum),
        per_device_eval_batch=max(1, int(config.eval.batch_size) // world), seed=int(config.seed))


def _accelerator(requested: str, cuda: bool) -> Resolved:
    """``lightning.accelerator`` as Lightning picks it: ``auto`` -> ``gpu`` when CUDA is visible (``mps`` on Apple),
    else ``cpu``."""
    if requested == "auto":
        import torch

        if cuda:
            return Resolved("gpu")
        if torch.backends.mps.is_available():
            return Resolved("mps")
        return Resolved("cpu", "auto: no GPU visible here")
    if requested in ("gpu", "cuda") and not cuda:
        return Resolved("gpu", "no GPU visible here, so the GPUs themselves are not checked")
    return Resolved(requested)


def _world_size(requested: str, devices: str | int | list[int], nodes: int, cuda: bool) -> int:
    """Processes taking part: devices x nodes (``auto`` devices: every GPU when training on GPU, else 1)."""
    if isinstance(devices, int):
        count = devices if devices > 0 else _visible_gpus(cuda)
    elif isinstance(devices, str):  # "auto"
        count = _visible_gpus(cuda) if requested in ("auto", "gpu", "cuda") else 1
    else:
        count = len(devices)
    return max(count, 1) * nodes


def _strategy(strategy: str, world: int, uncounted: bool) -> Resolved:
    """``lightning.strategy``; ``auto`` is DDP for more than one process (one device: Lightning's single-device
    strategy)."""
    if strategy != "auto":
        return Resolved(strategy)
    if uncounted:
        return Resolved("ddp", "if the node has more than one GPU, else single device")
    return Resolved("ddp") if world > 1 else Resolved("auto", "one process: a single device")


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


def _precision(config: DictConfig, on_gpu: bool, cuda: bool) -> Resolved:
    """``lightning.precision``; ``auto`` -> the architecture's ``auto_precision`` on a GPU when it has one (Conv
    trains in fp32, as the original), else ``bf16-mixed`` on CUDA GPUs with bf16 support, else ``32-true``. On GPUs
    that are not visible here (a dry run on a login node), the answer says what decides it."""
    precision = str(config.lightning.precision)
    if precision != "auto":
        return Resolved(precision)
    if not on_gpu:
        return Resolved("32-true")
    own = _architecture_precision(config)
    if own is not None:
        return Resolved(own, f"auto: {config.arch} trains in {own}, as the original did; --precision bf16-mixed "
                             "changes it")
    if not cuda:
        return Resolved("bf16-mixed", "auto: on GPUs with bf16 (compute capability 8.0+: A100, H100, ...), else "
                                      "32-true; no GPU here to ask")
    import torch

    return Resolved("bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true")

