"""Conditioning labels for sampling: ``name=value`` pairs, positional values, CSV/TSV tables, dataset splits.

Every source becomes a float32 matrix ``[R, C]`` of label rows in the model's label order (``names``)::

    parse_label_values("dev=4,hk=1", ["dev", "hk"])   -> [4., 1.]
    parse_label_values("4,1", ["dev", "hk"])          -> [4., 1.]
    read_label_table("rows.csv", ["dev", "hk"])       -> [R, 2] (a header naming the labels, or positional columns)
    label_rows(["dev=4,hk=1", "dev=0,hk=0"], names)   -> [2, 2]

A model with per-label nulls (trained on data with missing labels) can be conditioned on a subset of its labels:
with ``subset=True`` the labels a ``name=value`` row leaves out are NaN (unconditioned)::

    parse_label_values("HepG2=3,K562=-1", ["HepG2", "K562", "WTC11"], subset=True) -> [3., -1., nan]
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from d3core.data.readers import read_delimited
from d3core.errors import D3UserError
from d3core.seqfiles.records import format_value

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise D3UserError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise D3UserError(f"{what}: {text.strip()!r} is not a finite number")
    if abs(value) > FLOAT32_MAX:
        raise D3UserError(f"{what}: {text.strip()!r} is beyond the float32 range of labels (|value| <= 3.4e38)")
    return value


def parse_label_values(text: str, names: Sequence[str], *, subset: bool = False) -> np.ndarray:
    """One label row from ``"name=value,..."`` (every name once, any order; with ``subset``, the names left out are
    NaN: unconditioned) or ``"v1,v2,..."`` (in ``names`` order)."""
    names = list(names)
    items = [item.strip() for item in str(text).replace(";", ",").split(",") if item.strip()]
    what = f"--labels {text!r}"
    if not items:
        raise D3UserError(f"{what}: empty; give {', '.join(f'{n}=VALUE' for n in names)}")
    if any("=" in item for item in items):
        if not all("=" in item for item in items):
            raise D3UserError(f"{what}: mixes name=value pairs and positional values; use one form")
        lookup = {n.lower(): i for i, n in enumerate(names)}
        row = [math.nan] * len(names)
        for item in items:
            key, _, value = item.partition("=")
            index = lookup.get(key.strip().lower())
            if index is None:
                raise D3UserError(f"{what}: unknown label {key.strip()!r}; this model's labels are "
                                  f"{', '.join(names)}")
            if not math.isnan(row[index]):
                raise D3UserError(f"{what}: label {names[index]!r} given twice")
            row[index] = _number(value, f"{what} ({names[index]})")
        missing = [n for n, v in zip(names, row) if math.isnan(v)]
        if missing and not subset:
            raise D3UserError(f"{what}: no value for {', '.join(missing)}; the model is conditioned on all of "
                              f"{', '.join(names)} (e.g. --labels {','.join(f'{n}=1.0' for n in names)})")
        return np.asarray(row, dtype=np.float32)
    if len(items) != len(names):
        raise D3UserError(f"{what}: {len(items)} value(s) for {len(names)} labels ({', '.join(names)}); give one "
                          f"value per label or name=value pairs")
    return np.asarray([_number(v, what) for v in items], dtype=np.float32)


def read_label_table(path: str | os.PathLike, names: Sequence[str]) -> np.ndarray:
    """Label rows of a CSV/TSV file: a header that names every label (other columns ignored), or no header and
    exactly one column per label in ``names`` order. Blank lines and lines starting with ``#`` are skipped."""
    path = Path(path)
    names = list(names)
    if not path.is_file():
        raise D3UserError(f"--labels {path}: cannot read the label table (no such file)")
    try:
        rows = [cells for _, cells in read_delimited(path, comment="#")]
    except OSError as exc:
        raise D3UserError(f"--labels {path}: cannot read the label table ({exc.strerror or exc})") from exc
    if not rows:
        raise D3UserError(f"--labels {path}: the label table has no rows")
    first = rows[0]
    try:
        [float(cell) for cell in first]
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        header = {cell.lower(): i for i, cell in enumerate(first)}
        missing = [n for n in names if n.lower() not in header]
        if missing:
            shown = " ".join(", ".join(first).split())  # a quoted cell may hold line breaks
            raise D3UserError(f"--labels {path}: the header ({shown}) has no column for "
                              f"{', '.join(missing)}; name the columns {', '.join(names)}")
        columns = [header[n.lower()] for n in names]
        body, offset = rows[1:], 2
    else:
        if len(first) != len(names):
            raise D3UserError(f"--labels {path}: {len(first)} column(s) without a header, but the model has "
                              f"{len(names)} labels ({', '.join(names)}); add a header naming them")
        columns, body, offset = list(range(len(names))), rows, 1
    out = np.empty((len(body), len(names)), dtype=np.float32)
    for r, row in enumerate(body):
        for c, column in enumerate(columns):
            if column >= len(row):
                raise D3UserError(f"{path} row {r + offset}: missing a value for {names[c]!r}")
            out[r, c] = _number(row[column], f"{path} row {r + offset} ({names[c]})")
    if out.shape[0] == 0:
        raise D3UserError(f"--labels {path}: the label table has a header but no rows")
    return out


def is_table(spec: str) -> bool:
    """A ``--labels`` value naming a file (an existing path, or a ``.csv``/``.tsv``/``.txt`` name)."""
    return str(spec).lower().endswith(TABLE_SUFFIXES) or ("=" not in str(spec) and Path(spec).is_file())


def label_rows(specs: Sequence[str], names: Sequence[str], *, subset: bool = False) -> np.ndarray:
    """All ``--labels`` values, in order, as one ``[R, C]`` matrix (value specs give one row, tables many; ``subset``:
    see :func:`parse_label_values`)."""
    blocks = [read_label_table(s, names) if is_table(s) else parse_label_values(s, names, subset=subset)[None]
              for s in specs]
    if not blocks:
        return np.zeros((0, len(names)), dtype=np.float32)
    return np.concatenate(blocks, axis=0)


def expand(rows: np.ndarray, num: int) -> np.ndarray:
    """Each label row repeated ``num`` times (row-major: all sequences of row 0 first): ``[R * num, C]``."""
    return np.repeat(np.asarray(rows, dtype=np.float32), int(num), axis=0)


def format_labels(names: Sequence[str], values: Sequence[float]) -> str:
    """``dev=4 hk=1.5``: the shortest text that reads back to the same float32 values."""
    return " ".join(f"{n}={format_value(v)}" for n, v in zip(names, values))
