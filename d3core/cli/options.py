"""Click helpers shared by every command: both flag spellings, the one number type of float options."""
from __future__ import annotations

import math
from typing import Any, Callable

import click


class FiniteFloat(click.FloatRange):
    """The type of every float option: a finite number (``nan``, ``inf`` and overflowing text such as ``1e999``
    refused in one line), optionally in a range (``FiniteFloat(min=0)``, the arguments of ``click.FloatRange``)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:
        """The range for ``--help`` (``x>=0``); nothing for an unbounded number."""
        return "" if self.min is None and self.max is None else super()._describe_range()


def flag_names(*names: str) -> tuple[str, ...]:
    """Add the other spelling of every multi-word flag: ``--dry-run`` -> ``--dry-run``, ``--dry_run``."""
    out: list[str] = []
    for name in names:
        out.append(name)
        if name.startswith("--"):
            body = name[2:]
            for other in (body.replace("-", "_"), body.replace("_", "-")):
                if other != body and f"--{other}" not in out:
                    out.append(f"--{other}")
    return tuple(dict.fromkeys(out))


def option(*param_decls: str, **attrs: Any) -> Callable:
    """``click.option`` accepting ``--a-b`` and ``--a_b`` alike; the parameter name stays the first spelling's."""
    decls = list(param_decls)
    flags = [d for d in decls if d.startswith("-")]
    names = [d for d in decls if not d.startswith("-")]
    if not names and flags:
        names = [max(flags, key=len).lstrip("-").replace("-", "_")]
    return click.option(*flag_names(*flags), *names, **attrs)
