"""Keep freed memory for reuse while sampling on the CPU (glibc's malloc).

A sampling step allocates and frees many large activations (8 MB each for Tran ``tiny`` at batch 32). glibc gives
freed memory at the top of the heap back to the operating system as soon as more than ``M_TRIM_THRESHOLD`` is free,
and serves blocks above ``M_MMAP_THRESHOLD`` with fresh mappings, so every step page-faults its activations in again:
about a quarter of a ``tiny`` step on this project's CPUs (``benchmarks/sampling.py``). :func:`keep_freed_memory`
raises both thresholds for the process, so freed blocks are reused; the price is that the process keeps its peak
memory until it exits. ``d3 sample`` calls it (``D3_MALLOC_TUNING=0`` turns it off); elsewhere than glibc it does
nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Mapping

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3        # glibc's mallopt parameters
TRIM_THRESHOLD = 1 << 30                             # keep up to 1 GiB of freed memory at the top of the heap
MMAP_THRESHOLD = 32 << 20                            # blocks up to 32 MiB (glibc's maximum) come from the heap


def keep_freed_memory(env: Mapping[str, str] | None = None) -> bool:
    """Raise glibc's trim and mmap thresholds for this process; True when they were set."""
    env = os.environ if env is None else env
    if env.get("D3_MALLOC_TUNING", "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
