"""``training.compile``: whether ``d3 train`` runs the score network through ``torch.compile``, and the checks that
make an unusable compiler one clear line instead of a traceback at the first training step.

Only the training forward (and so its backward) is compiled: validation, sampling callbacks and checkpoints use the
network itself, so saved parameter names never carry torch's ``_orig_mod.`` prefix, a checkpoint written with compile
on resumes with it off and back, and evaluation batches of other sizes never trigger a recompilation.

``auto`` (the default) compiles only where it measured faster (``benchmarks/training_speed.py`` and
``training_speed_paired.py``, docs/performance.md), per device type and network size: :data:`AUTO_COMPILES`. On the
CPU it did not (paper sizes: the step is matrix products at the BLAS's own rate, which compiling cannot beat), and
CUDA has not been measured yet, so today ``auto`` trains eager everywhere and ``true`` (``--compile``) opts in.
"""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from d3core.config import compile_setting
from d3core.errors import D3UserError

__all__ = ["AUTO_COMPILES", "CompileChoice", "backend_problem", "choose_compile", "compile_note",
           "compiled_network"]

#: where ``auto`` compiles: device type -> the smallest network (parameters) from which compiling measured faster.
#: Empty: on the 2-core CPU (fp32, interleaved with eager) compiling showed no consistent gain -- compiled/eager
#: 0.82-1.19 for Tran paper (92 M) and Conv paper (13 M) over four runs, 0.77-1.11 for the tiny presets, by batch and
#: run -- and costs a minute or two at start-up; CUDA is unmeasured (``benchmarks/gpu.sh`` measures it: add
#: ``"cuda": <parameters>`` when it shows a gain).
AUTO_COMPILES: dict[str, int] = {}
#: devices with a backend of torch.compile's default (inductor) that d3 checks before training
INDUCTOR_DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class CompileChoice:
    """Whether the run compiles (``enabled``) and why, in words (``reason``: what a dry run reports)."""

    enabled: bool
    reason: str

    def __str__(self) -> str:
        return f"{'on' if self.enabled else 'off'} ({self.reason})"


def backend_problem(device_type: str) -> str | None:
    """Why ``torch.compile``'s default backend (inductor) cannot run for ``device_type`` here, or None.

    CPU: inductor writes C++ and builds it with ``$CXX`` (default ``g++``; ``clang++`` on macOS) against Python's
    headers. CUDA: it writes Triton kernels. Both are looked up without importing inductor (seconds).
    """
    if device_type == "cpu":
        compiler = os.environ.get("CXX", "clang++" if sys.platform == "darwin" else "g++")
        if sys.platform == "win32":
            return "d3 does not compile on Windows CPUs (inductor needs MSVC set up for it)"
        if shutil.which(compiler) is None:
            return (f"its CPU backend builds C++ with {compiler}, which is not on PATH (install a C++ compiler, "
                    "e.g. apt install g++, or point $CXX at one)")
        headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
        if not headers.is_file():
            return (f"its CPU backend needs Python's C headers ({headers} is missing: install python3-dev or the "
                    "python3.X-dev package of this Python)")
        return None
    if device_type == "cuda":
        from importlib.util import find_spec

        if find_spec("triton") is None:
            return "its CUDA backend needs the triton package (pip install triton; CUDA builds of torch bring it)"
        return None
    return f"d3 has not measured torch.compile on {device_type} devices"


def choose_compile(setting: Any, device_type: str, parameters: Callable[[], int]) -> CompileChoice:
    """The run's choice: ``setting`` (``training.compile``) for a network of ``parameters()`` parameters (called
    for ``auto`` only) trained on ``device_type`` (``"cpu"``, ``"cuda"``, ``"mps"``, ...). ``true`` with an unusable
    backend raises :class:`D3UserError`; ``auto`` then falls back to eager, saying why."""
    setting = compile_setting(setting)
    if setting is False:
        return CompileChoice(False, "training.compile=false")
    if setting is True:
        problem = backend_problem(device_type) if device_type in INDUCTOR_DEVICES else None
        if problem:
            raise D3UserError(f"training.compile=true (--compile) but torch.compile cannot run here: {problem}; "
                              "or train with --no-compile (training.compile=false)")
        return CompileChoice(True, "training.compile=true")
    threshold = AUTO_COMPILES.get(device_type)
    if threshold is None:
        return CompileChoice(False, f"auto: compiling has not measured faster on {device_type} "
                                    "(docs/performance.md); --compile to try it")
    count = parameters()
    size = f"{count / 1e6:.1f} M parameters"
    if count < threshold:
        return CompileChoice(False, f"auto: {size}, below the {threshold / 1e6:.0f} M from which compiling "
                                    f"measured faster on {device_type}")
    problem = backend_problem(device_type)
    if problem:
        return CompileChoice(False, f"auto: torch.compile cannot run here: {problem}")
    return CompileChoice(True, f"auto: {size} on {device_type}")


def compile_note(choice: CompileChoice) -> str | None:
    """The line ``d3 train`` prints about compiling: when it compiles (the first steps take minutes), and when
    ``auto`` could not (why); None when there is nothing to say."""
    if choice.enabled:
        return (f"training.compile: compiling the score network with torch.compile ({choice.reason}); the first "
                "training steps take minutes while it compiles (--no-compile to skip)")
    if "cannot run here" in choice.reason:
        return f"training.compile={choice.reason}; training without compiling"
    return None


def compiled_network(network):
    """``torch.compile(network)`` for training: fixed shapes (one compilation per batch shape; the training batch has
    one, the last partial batch of an epoch a second). The returned wrapper is not meant to be a submodule: keep the
    network itself for state dicts."""
    import torch

    return torch.compile(network, dynamic=False)
