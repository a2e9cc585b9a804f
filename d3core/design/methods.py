"""The design-method table: every ``--method`` of ``d3 design`` (and ``DesignSettings.method``).

Light (no numpy, no torch), so the CLI builds its choice list and help from it when the app starts; the driver
(:mod:`d3core.design.driver`) checks settings against it and picks the transition by name.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodInfo:
    """One design method: ``about`` (its line in ``--help``) and ``draws`` (what ``--candidates`` counts for it:
    ``candidates`` or ``particles``; None: the method takes no ``--candidates``)."""

    about: str
    draws: str | None = None


#: name -> what it does, in the order of the choice list
METHODS: dict[str, MethodInfo] = {
    "svdd": MethodInfo("M candidates per step, keep one by the value of its denoised estimate", draws="candidates"),
    "smc": MethodInfo("K particles per design, resampled by weight", draws="particles"),
    "evolve": MethodInfo("a population per request, partly re-noised and denoised by the model each round, resampled "
                         "by value, the best distinct designs kept in an archive"),
    "none": MethodInfo("plain sampling (the baseline, same seed)"),
}
DEFAULT_METHOD = "svdd"


def methods_help() -> str:
    """``svdd (default): ...; smc: ...; ...``: the table as one help paragraph."""
    return "; ".join(f"{name}{' (default)' if name == DEFAULT_METHOD else ''}: {info.about}"
                     for name, info in METHODS.items()) + "."
