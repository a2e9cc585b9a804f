"""The optional libraries of the evaluation (the ``motifs`` extra: ``pip install 'd3core[motifs]'``): memelite (FIMO),
pyjaspar (the JASPAR releases, offline), captum (GradientShap), logomaker (attribution logos), tangermeme
(dinucleotide shuffles). A missing one is a one-line :class:`~d3core.errors.D3UserError` naming the extra."""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

from d3core.errors import D3UserError

EXTRA = "motifs"
INSTALL = f"pip install 'd3core[{EXTRA}]'"
#: import name -> distribution name
LIBRARIES = {"memelite": "memelite", "pyjaspar": "pyjaspar", "captum": "captum", "logomaker": "logomaker",
             "tangermeme": "tangermeme"}


class MissingExtraError(D3UserError):
    """An optional library of the ``motifs`` extra is not installed."""


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` (e.g. ``"memelite"``) or raise :class:`MissingExtraError` saying what needs it and how to
    install it."""
    top = module.split(".")[0]
    try:
        return import_module(module)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] != top:
            raise
        raise MissingExtraError(f"{what} needs {LIBRARIES.get(top, top)}, which is not installed: {INSTALL}") \
            from exc


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it when it is absent)."""
    from importlib.util import find_spec

    return find_spec(module) is not None
