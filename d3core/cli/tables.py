"""Plain text tables for the commands' output."""
from __future__ import annotations

from typing import Any, Iterable, Sequence


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, rule: bool = True) -> str:
    """A left-aligned text table: the header, a ``----`` rule under it (unless ``rule=False``), one line per row
    (``None`` printed as nothing, trailing blanks trimmed)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
