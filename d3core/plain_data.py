"""Plain data: OmegaConf containers, mappings, sequences and numpy scalars -> dicts, lists and Python numbers.

What checkpoints (``torch.load(weights_only=True)`` refuses numpy and OmegaConf objects), JSON and YAML can hold.
Light: omegaconf is never imported here (a value can only be an OmegaConf container when omegaconf is loaded).
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["to_plain"]


def to_plain(value: Any, *, keep_tuples: bool = True) -> Any:
    """``value`` with every OmegaConf container (resolved), mapping and sequence turned into dicts and lists, and every
    numpy scalar into a Python number; tuples stay tuples unless ``keep_tuples=False``. Strings, tensors and numpy
    arrays are returned unchanged."""
    omegaconf = sys.modules.get("omegaconf")
    if omegaconf is not None and omegaconf.OmegaConf.is_config(value):
        value = omegaconf.OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {key: to_plain(item, keep_tuples=keep_tuples) for key, item in value.items()}
    if isinstance(value, tuple) and keep_tuples:
        return tuple(to_plain(item, keep_tuples=keep_tuples) for item in value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [to_plain(item, keep_tuples=keep_tuples) for item in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value
