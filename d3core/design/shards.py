"""Joining the shards of ``d3 design --shard K/N``: the designs a single process would have written.

Each shard is a design file (:mod:`d3core.design.output`) holding its designs' indices in the whole set (ids
``d3_<i>``), the shard and the total in its metadata, and the indices the synthesis rules left out
(``synthesis.left_out``). :func:`merge_designs` checks that the shards come from one run (the metadata that
identifies it is equal), that every index of the set is written or left out exactly once, and writes the designs in
index order, in any design format.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from d3core.design.driver import DesignSet
from d3core.design.output import read_designs, write_designs
from d3core.errors import D3UserError
from d3core.seqfiles import read_sequence_file
from d3core.generation.shards import SHARD_KEYS, check_same_run

#: metadata that differs between shards of one design run: how long each took, what each left out
PER_SHARD = ("synthesis", "total", "seconds_per_design", "evolve", "oracle_calls", "network_rows")
#: per shard facts of ``--method evolve`` (the searches of its requests); the rest of ``evolve`` (the settings) is
#: equal across the shards of one run
EVOLVE_PER_SHARD = ("requests", "left_out")


def is_design_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a sequence file of any format) is a design file: it holds an ``objective`` column. An
    unreadable file is the reader's one-line :class:`D3UserError`."""
    return "objective" in read_sequence_file(path, empty_ok=True).columns


def merge_designs(paths: Sequence[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Join design shards into ``out`` (any design format); ``{"path", "num", "shards", "left_out"}``. Raises
    :class:`D3UserError` naming the file for shards of other runs, gaps and overlaps."""
    parts = [(Path(p), read_designs(p)) for p in paths]
    for path, designs in parts:
        if "total" not in designs.metadata:
            raise D3UserError(f"{path}: not a shard of d3 design --shard K/N (its metadata has no total); only shard "
                              "files are merged")
    parts.sort(key=lambda part: int(part[1].metadata.get("first_index", 0)))
    (first_path, first), rest = parts[0], parts[1:]
    total = int(first.metadata["total"])
    for path, designs in rest:
        check_same_run(first_path, first.metadata, path, designs.metadata, may_differ=PER_SHARD)
        if int(designs.metadata["total"]) != total or designs.prediction_names != first.prediction_names or \
                designs.label_names != first.label_names or sorted(designs.columns) != sorted(first.columns):
            raise D3UserError(f"{path}: its design set (total, oracle labels, columns) differs from {first_path}'s; "
                              "these are not shards of one design run")
        if _evolve_settings(designs) != _evolve_settings(first):
            raise D3UserError(f"{path}: its --method evolve settings differ from {first_path}'s; these are not shards "
                              "of one design run")
    left_out = sorted(i for _, d in parts for i in _left_out(d))
    seen = np.concatenate([d.ids for _, d in parts] + [np.asarray(left_out, np.int64)])
    counts = np.bincount(seen, minlength=total) if len(seen) else np.zeros(total, np.int64)
    if len(counts) > total or (counts != 1).any():
        where = int(np.nonzero(counts != 1)[0][0])
        problem = "is in more than one file" if where < len(counts) and counts[where] > 1 else "is in none of them"
        raise D3UserError(f"d3 merge: design d3_{where} of {total} {problem}; give every shard of the design "
                          "run exactly once")
    broke_rules = sorted(i for _, d in parts for i in (d.metadata.get("synthesis") or {}).get("left_out", []))
    merged = _concatenate([d for _, d in parts], first, broke_rules, [str(p) for p, _ in parts])
    write_designs(out, merged, overwrite=overwrite)
    return {"path": Path(out), "num": len(merged), "shards": len(parts), "left_out": len(left_out)}


def _evolve_settings(designs: DesignSet) -> dict | None:
    evolve = designs.metadata.get("evolve")
    return None if evolve is None else {k: v for k, v in evolve.items() if k not in EVOLVE_PER_SHARD}


def _left_out(designs: DesignSet) -> list[int]:
    """The numbers of a shard's designs not written: broke a synthesis rule, or beyond an evolve archive's size."""
    return [*(designs.metadata.get("synthesis") or {}).get("left_out", []),
            *(designs.metadata.get("evolve") or {}).get("left_out", [])]


def _concatenate(sets: list[DesignSet], first: DesignSet, left_out: list[int], sources: list[str]) -> DesignSet:
    index = np.concatenate([d.ids for d in sets])
    order = np.argsort(index, kind="stable")
    metadata = {k: v for k, v in first.metadata.items() if k not in SHARD_KEYS and k not in PER_SHARD}
    metadata.update(num=int(len(index)), merged_from=sources,
                    seconds=float(sum(d.metadata.get("seconds", 0.0) for d in sets)))
    if first.metadata.get("synthesis"):
        synthesis = dict(first.metadata["synthesis"])
        by_rule: dict[str, int] = {}
        for d in sets:
            for rule, count in d.metadata["synthesis"].get("failed_by_rule", {}).items():
                by_rule[rule] = by_rule.get(rule, 0) + count
        synthesis.update(failed=len(left_out), failed_by_rule=dict(sorted(by_rule.items())), left_out=left_out)
        metadata["synthesis"] = synthesis
    if first.metadata.get("evolve"):  # the shards' searches, in request order
        metadata["evolve"] = {**first.metadata["evolve"],
                              **{k: [x for d in sets for x in d.metadata["evolve"][k]] for k in EVOLVE_PER_SHARD}}
        for spent in ("oracle_calls", "network_rows"):
            metadata[spent] = int(sum(d.metadata[spent] for d in sets))
    labels = None if first.labels is None else np.concatenate([d.labels for d in sets])[order]
    return DesignSet(np.concatenate([d.tokens for d in sets])[order], labels, list(first.label_names),
                     np.concatenate([d.predictions for d in sets])[order], list(first.prediction_names),
                     np.concatenate([d.objective for d in sets])[order], metadata,
                     {name: np.concatenate([d.columns[name] for d in sets])[order] for name in first.columns},
                     index[order])
