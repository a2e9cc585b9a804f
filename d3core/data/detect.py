"""Which registered dataset a file belongs to: its ``d3_dataset`` attribute, else the layouts matching its keys."""
from __future__ import annotations

import os
from pathlib import Path

from d3core.data.base import SequenceDataset
from d3core.data.layout import open_h5
from d3core.errors import D3UserError, PluginError

__all__ = ["datasets_matching", "detect_dataset"]


def datasets_matching(path: str | os.PathLike, manager) -> tuple[list[SequenceDataset], list[str]]:
    """``(datasets, keys)``: the dataset named by the file's ``d3_dataset`` attribute when it is installed, else every
    registered dataset whose layout matches the file's keys (a broken dataset plugin is passed over)."""
    with open_h5(Path(path)) as f:
        keys = list(f.keys())
        named = f.attrs.get("d3_dataset")
    if isinstance(named, bytes):
        named = named.decode()
    if named:
        try:
            return [manager.dataset(str(named))], keys
        except PluginError:
            pass  # made by a dataset that is not installed (or broken) here: fall back to the keys
    found = []
    for entry in manager.registry("datasets").entries():
        try:
            dataset = manager.dataset(entry)
        except PluginError:  # a broken plugin must not break detection for the others
            continue
        if dataset.layout.matches(keys):
            found.append(dataset)
    return found, keys


def detect_dataset(path: str | os.PathLike, manager) -> SequenceDataset:
    """The one registered dataset whose layout ``path`` has; a :class:`D3UserError` when none or several match."""
    found, keys = datasets_matching(path, manager)
    if len(found) != 1:
        which = (f"several datasets match ({', '.join(d.name for d in found)})" if found
                 else f"no installed dataset layout matches its keys ({', '.join(keys) or 'none'})")
        raise D3UserError(f"{path}: {which}; pass --dataset NAME (see 'd3 plugins list --kind datasets')")
    return found[0]
