"""The sections of ``d3 evaluate``, in the order they run (later ones read what earlier ones left in ``run.extra``):
one module each, one :class:`~d3core.evaluation.sections.base.Section` per module.

A new metric: a module here with its ``SECTION`` (name, compute, better directions, when it applies, what it adds to
report.md) and one line in :data:`SECTIONS`. :func:`~d3core.evaluation.report.evaluate_samples` runs them;
:func:`direction_of` gives report.md's "better" column from their ``directions``.
"""
from __future__ import annotations

from d3core.evaluation.sections import (attributions, composition, discriminability, identity, likelihood, motifs,
                                        oracle_activity, plots, top_kmers)
from d3core.evaluation.sections.base import Run, Section

SECTIONS: list[Section] = [
    composition.SECTION,
    identity.SECTION,
    discriminability.SECTION,
    oracle_activity.SECTION,
    likelihood.SECTION,
    top_kmers.SECTION,
    motifs.SECTION,
    attributions.SECTION,
    plots.SECTION,  # last: draws from what the others computed
]


def direction_of(metric: str) -> str:
    """Which direction is better for ``metric`` ("" when no section says): an exact name in a section's
    ``directions`` first, then a name prefix (a key ending in ``*``)."""
    for section in SECTIONS:
        if metric in section.directions:
            return section.directions[metric]
    return next((better for section in SECTIONS for key, better in section.directions.items()
                 if key.endswith("*") and metric.startswith(key[:-1])), "")


__all__ = ["SECTIONS", "Run", "Section", "direction_of"]
