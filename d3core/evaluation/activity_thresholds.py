"""``--activity-threshold LABEL=VALUE`` (repeatable, comma-separated): the thresholds of ``fraction_above_<label>``."""
from __future__ import annotations

from typing import Sequence

from d3core.errors import D3UserError


def parse_thresholds(text: Sequence[str] | None) -> dict[str, float]:
    """``["dev=4", "hk=1.5"]`` (or ``["dev=4,hk=1.5"]``) -> ``{"dev": 4.0, "hk": 1.5}``; anything else is a
    :class:`~d3core.errors.D3UserError` naming the part and the expected form."""
    out = {}
    for item in text or ():
        for part in str(item).split(","):
            name, sep, value = part.partition("=")
            try:
                threshold = float(value)
            except ValueError:
                threshold = None
            if not sep or not name.strip() or threshold is None:
                raise D3UserError(f"--activity-threshold {part!r}: expected LABEL=VALUE, e.g. dev=4")
            out[name.strip()] = threshold
    return out
