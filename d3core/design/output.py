"""Design files: FASTA, NPZ or TSV/CSV by extension, with the objective and every measurement per design; atomic.

==========  =====================================================================================================
``.fasta``  ``>d3_design_<i> objective=1.93 oracle:dev=2.1 oracle:hk=0.2 [judge:dev=...] [bits_per_base=1.97]
            label:dev=2 label:hk=0`` then the sequence (``.fa`` too).
``.npz``    ``tokens`` uint8 [N, L], ``index`` int64 [N] (each design's number in the whole set: ``d3_design_<i>``),
            ``objective`` float64 [N], ``predictions`` float32 [N, K] with
            ``prediction_names``, ``labels`` float32 [N, C] with ``label_names`` (conditional models), one array per
            extra column (``bits_per_base``, ``judge:dev``, ...; text ones such as ``edits`` as str arrays) and
            ``metadata`` (JSON); ``np.load`` without pickle.
``.tsv``    columns ``id, sequence, objective, oracle:<name>..., <extra columns>..., label:<name>...`` (``.csv``).
==========  =====================================================================================================

Designs made from start sequences (``--start-from``, method evolve) carry ``edits`` (``12:A>G;40:C>T``: position
from 1, start letter, design letter; empty for none) and ``edit_count``.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from d3core.atomic import atomic_write_bytes, atomic_write_text
from d3core.data.arrays import open_arrays
from d3core.data.encoding import decode
from d3core.design.driver import DesignSet
from d3core.errors import D3UserError, one_line
from d3core.generation.io import LABEL_FIELD, format_from_suffix

DESIGN_FORMATS = {".fasta": "fasta", ".fa": "fasta", ".npz": "npz", ".tsv": "tsv", ".csv": "csv"}


def design_format(path: str | os.PathLike) -> str:
    """``fasta``, ``npz``, ``tsv`` or ``csv`` from the extension, else a :class:`D3UserError`."""
    return format_from_suffix(path, DESIGN_FORMATS, "design")


def _table(designs: DesignSet) -> tuple[list[str], list[np.ndarray]]:
    """Column names and float columns ``[N]`` of a design set (objective, oracle, extras, labels)."""
    names = ["objective"] + [f"oracle:{n}" for n in designs.prediction_names] + list(designs.columns)
    columns = [designs.objective] + [designs.predictions[:, i] for i in range(len(designs.prediction_names))]
    columns += [_column(v) for v in designs.columns.values()]
    if designs.labels is not None:
        names += [f"{LABEL_FIELD}{n}" for n in designs.label_names]
        columns += [designs.labels[:, i] for i in range(len(designs.label_names))]
    return names, columns


def _column(values) -> np.ndarray:
    """An extra column as float64, or as text (``edits``: ``12:A>G;40:C>T``) when it holds strings."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype.kind in "US" else values.astype(np.float64)


def _number(value) -> str:
    if isinstance(value, str):
        return value
    return "nan" if not np.isfinite(value) else f"{float(value):.6g}"


def write_designs(path: str | os.PathLike, designs: DesignSet, *, overwrite: bool = False,
                  flanks: tuple[str, str] = ("", "")) -> Path:
    """Write ``designs`` to ``path`` (format from the extension), atomically. ``flanks``: construct adapters written
    around every sequence of a FASTA, TSV or CSV file (what is ordered); an NPZ keeps the elements' tokens (what
    the model and the oracles score) and names the adapters in its metadata."""
    path = Path(path)
    kind = design_format(path)
    if path.exists() and not overwrite:
        raise D3UserError(f"{path}: already exists; choose another -o or pass --force to replace it")
    names, columns = _table(designs)
    left, right = (str(f).upper() for f in flanks)
    sequences = [f"{left}{s}{right}" for s in decode(designs.tokens)] if len(designs) else []
    if kind == "fasta":
        lines = []
        for i, (number, sequence) in enumerate(zip(designs.ids, sequences)):
            fields = " ".join(f"{n}={_number(c[i])}" for n, c in zip(names, columns))
            lines.append(f">d3_design_{number} {fields}\n{sequence}\n")
        return atomic_write_text(path, "".join(lines))
    if kind in ("tsv", "csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t" if kind == "tsv" else ",", lineterminator="\n")
        writer.writerow(["id", "sequence", *names])
        for i, (number, sequence) in enumerate(zip(designs.ids, sequences)):
            writer.writerow([f"d3_design_{number}", sequence, *(_number(c[i]) for c in columns)])
        return atomic_write_text(path, buffer.getvalue())
    arrays = {"tokens": designs.tokens.astype(np.uint8), "objective": designs.objective.astype(np.float64),
              "predictions": designs.predictions.astype(np.float32),
              "prediction_names": np.asarray(designs.prediction_names, dtype=str), "index": designs.ids,
              "metadata": np.asarray(json.dumps(designs.metadata, default=str))}
    if designs.labels is not None:
        arrays["labels"] = designs.labels.astype(np.float32)
        arrays["label_names"] = np.asarray(designs.label_names, dtype=str)
    for name, value in designs.columns.items():
        arrays[name] = _column(value)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def read_designs(path: str | os.PathLike) -> DesignSet:
    """Read an ``.npz`` design file back."""
    path = Path(path)
    if design_format(path) != "npz":
        raise D3UserError(f"{path}: read_designs reads .npz design files; write one with -o designs.npz")
    fix = "write it again with d3 design -o designs.npz"
    with open_arrays(path, fix=fix) as f:
        arrays = {key: f.array(key) for key in f.keys}
    fixed = {"tokens", "objective", "predictions", "prediction_names", "labels", "label_names", "metadata", "index"}
    try:
        return DesignSet(arrays["tokens"], arrays.get("labels"), [str(n) for n in arrays.get("label_names", [])],
                         arrays["predictions"], [str(n) for n in arrays["prediction_names"]], arrays["objective"],
                         json.loads(str(arrays["metadata"])), {k: v for k, v in arrays.items() if k not in fixed},
                         arrays["index"].astype(np.int64) if "index" in arrays else None)
    except (KeyError, ValueError) as exc:
        raise D3UserError(f"{path}: not a d3 design file ({one_line(exc)}); {fix}") from None
