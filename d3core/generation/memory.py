"""Memory bounds: what a request will allocate, checked against what the device has before anything large is made.

Commands whose flags multiply allocations (``--num`` label rows, ``--batch-size``, ``--candidates``/particles,
scoring draws) estimate the bytes up front with :func:`network_bytes` and their own arrays, and call
:func:`check_fits`, which refuses a request larger than the memory available in one line naming the flag, the
estimate and the memory -- instead of the out-of-memory killer ending the process many gigabytes later.

The network estimate is a lower bound: ``rows x L x (widest layer output + vocabulary) x 2 x 4 bytes`` (the widest
layer's input and output alive at once, float32), from the network's parameter shapes, whatever the architecture.
"""
from __future__ import annotations

import os
from typing import Any

from d3core.errors import D3UserError

FLOAT_BYTES = 4


def available_bytes(device: Any = "cpu") -> int | None:
    """Bytes the process can still allocate on ``device``: free GPU memory for CUDA; for the CPU, psutil's available
    memory if installed, else ``MemAvailable`` of ``/proc/meminfo``, else free pages (``os.sysconf``); None if
    unknown."""
    if str(device).startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def network_bytes(model, rows: int, length: int) -> int:
    """Lower-bound bytes of one network call on ``rows`` sequences of ``length``: see the module docstring."""
    widths = [int(p.shape[0]) for p in model.parameters() if p.dim() >= 2] or [1]
    vocab = int(getattr(model, "vocab_size", 4))
    return int(rows) * int(length) * (max(widths) + vocab) * 2 * FLOAT_BYTES


def human(size: float) -> str:
    """``21.7 GB``: bytes in decimal units."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(size) < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"


def check_fits(flag: str, needed: int, device: Any, detail: str, fix: str) -> None:
    """Refuse a request of ``needed`` bytes on ``device`` above its available memory: a :class:`D3UserError`
    naming ``flag`` (what to lower), the estimate and what it is made of (``detail``), the memory, and ``fix``."""
    free = available_bytes(device)
    if free is not None and needed > free:
        raise D3UserError(f"{flag}: this request needs at least {human(needed)} ({detail}) but {device} has "
                          f"{human(free)} available; {fix}")


def check_request(sm, *, flag: str, rows: int, fix: str, extra: int = 0, extra_detail: str = "") -> None:
    """:func:`check_fits` for a request on a :class:`~d3core.generation.sampling_model.SamplingModel`: network calls of
    ``rows`` sequences (``rows`` x L x widest layer) plus ``extra`` bytes allocated up front (``extra_detail``)."""
    network = network_bytes(sm.model, rows, sm.length)
    detail = f"network calls on {rows} rows of {sm.length} bp: {human(network)}"
    if extra:
        detail += f"; {extra_detail}: {human(extra)}"
    check_fits(flag, network + int(extra), sm.device, detail, fix)
