"""``CheckpointBundle``: everything a checkpoint holds, as plain data -- what every format loads and saves."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckpointBundle"]


@dataclass
class CheckpointBundle:
    """Everything a checkpoint holds, as plain data (tensors, dicts, numbers).

    ``model`` and ``ema["shadow"]`` map parameter names of the d3 architecture to tensors (``ema`` is
    ``{"decay", "num_updates", "shadow"}``); ``optimizer`` is a torch optimizer state dict whose ``state`` is keyed by
    parameter name and whose groups list names; ``scheduler`` a LambdaLR state dict (or None: rebuilt from the step);
    ``config`` is the full d3 run config as plain containers; ``extra`` carries format-specific data that another
    format may ignore (Lightning loops and RNG states, the original run's hydra config and key layout).
    """

    config: dict[str, Any]
    model: dict[str, Any]
    ema: dict[str, Any] | None = None
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    step: int = 0
    epoch: int = 0
    architecture: str | None = None
    dataset: str | None = None
    precision: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    source_format: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
