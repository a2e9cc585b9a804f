"""Constructs: designs inside the adapters their dataset's library uses, as a vendor synthesises them.

A dataset plugin declares its library's adapters (``construct_flanks``, e.g. lentiMPRA's 15 bp 5' and 3' adapters,
cut from the sequences on import); ``d3 design --constructs`` writes adapter + design + adapter and checks the
synthesis rules on that whole construct (:class:`d3core.generation.constraints.SynthesisRules` ``flanks``), so a
restriction site or a homopolymer formed across a junction counts.
"""
from __future__ import annotations

from d3core.errors import D3UserError


def construct_flanks(sm) -> tuple[str, str]:
    """The ``(5', 3')`` adapters of the dataset a model was trained on; a :class:`D3UserError` when it declares
    none."""
    dataset = sm.dataset()
    flanks = tuple(str(f).upper() for f in getattr(dataset, "construct_flanks", ("", "")))
    if not any(flanks):
        raise D3UserError(f"--constructs: dataset {dataset.name!r} declares no construct adapters "
                          "(construct_flanks); write the designs as elements (drop --constructs) or add the adapters "
                          "with --fix at both ends")
    return flanks
