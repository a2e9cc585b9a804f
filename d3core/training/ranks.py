"""Ranks: whether this process is global rank 0, and the run directory rank 0 shares with the ranks it launches.

Lightning's own answer (``rank_zero_only.rank``) is used once Lightning is imported; before that, the environment
variables Lightning reads (lightning_fabric's ``_get_rank``), so a typo in a ``d3 train`` flag fails before the
seconds-long Lightning import.
"""
from __future__ import annotations

import os
import sys

__all__ = ["RANK_VARIABLES", "RUN_DIR_ENV", "environment_rank", "is_rank_zero"]

#: set by rank 0 before Lightning launches the other ranks, so they all use the same run directory
RUN_DIR_ENV = "D3_RUN_DIR"
#: where Lightning reads a process's global rank before its strategy sets it, in its order
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def environment_rank() -> int | None:
    """The global rank the environment gives this process (the first of :data:`RANK_VARIABLES` that is set), or
    None when none is."""
    rank = next((os.environ[key] for key in RANK_VARIABLES if os.environ.get(key) is not None), None)
    return None if rank is None else int(rank)


def is_rank_zero() -> bool:
    """Whether this process is global rank 0: Lightning's ``rank_zero_only.rank`` once Lightning is imported, else
    :func:`environment_rank` (no Lightning import)."""
    rank_zero = sys.modules.get("pytorch_lightning.utilities.rank_zero")
    if rank_zero is not None:
        return getattr(rank_zero.rank_zero_only, "rank", 0) == 0
    return (environment_rank() or 0) == 0
