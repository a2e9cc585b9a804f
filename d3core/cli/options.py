"""Click helpers shared by every command: both flag spellings, the one number type of float options."""
from __future__ import annotations

import math
from pathlib import Path
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


class TimeOrPercent(click.ParamType):
    """A diffusion time (``0.2``) or a fraction of positions written as a percentage (``20%``): converts to
    ``(value, is_percentage)`` with ``value`` a finite float (``20%`` -> ``(0.2, True)``)."""

    name = "T|P%"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, bool]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        percent = text.endswith("%")
        number = FiniteFloat().convert(text[:-1] if percent else text, param, ctx)
        return (number / 100 if percent else number), percent


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


class PathOrPublished(click.ParamType):
    """A path, or the name of a published file (``d3 models list``) of one of ``kinds``, fetched into the cache when
    missing (:func:`d3core.checkpoints.published.resolve_published`); then checked as ``click.Path(**path_options)``
    would. Messages about the download go to stderr."""

    def __init__(self, kinds: tuple[str, ...], **path_options: Any):
        self.kinds = tuple(kinds)
        self.path = click.Path(path_type=Path, **path_options)
        self.name = f"PATH|{'|'.join(k.upper() for k in self.kinds)}-NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from d3core.checkpoints.published import resolve_published

        if isinstance(value, Path):
            return value
        manager = ctx.find_root().obj if ctx is not None else None
        resolved = resolve_published(value, kinds=self.kinds, manager=manager,
                                     echo=lambda line: click.echo(line, err=True))
        return self.path.convert(str(resolved), param, ctx)


def synthesis_options(command: Callable) -> Callable:
    """``--gc``, ``--max-homopolymer``, ``--avoid`` and ``--synthesis-attempts`` (d3 sample, d3 design): synthesis
    rules every written sequence meets (:mod:`d3core.generation.constraints`)."""
    decorators = [
        option("--gc", "gc", default=None,
               help="Synthesis rule: GC fraction MIN:MAX of the whole sequence, fixed parts and adapters included "
                    "(e.g. 0.40:0.60)."),
        option("--max-homopolymer", type=click.IntRange(min=1), default=None,
               help="Synthesis rule: no run of one letter longer than N."),
        option("--avoid", "avoid", multiple=True,
               help="Synthesis rule: a site no sequence may hold, on either strand: IUPAC letters (GGTCTC, GATNNNNATC) "
                    "or an enzyme name (BsaI, BsmBI, EcoRI, XbaI, ...). Repeatable."),
        option("--synthesis-attempts", type=click.IntRange(min=0), default=None,
               help="In-fill redraws per sequence for the synthesis rules (default 8): a stretch that breaks a rule is "
                    "redrawn by the model with the rest fixed; a sequence still breaking one is reported, not "
                    "written."),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command
