"""What ``d3 score`` scores: sequences from a FASTA/NPZ/HDF5/CSV file or a dataset split, with the labels to score
them under.

Every bad record is a one-line :class:`D3UserError` naming the file and the record (its FASTA id and line): a
sequence of the wrong length, a letter other than A, C, G, T.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from d3core.errors import D3UserError

_NOT_ACGT = re.compile(r"[^ACGTacgt]")


@dataclass
class ScoringInput:
    """Sequences to score: ``ids [N]``, ``tokens uint8 [N, L]``, the labels stored with them (``[N, C]`` in
    ``label_names`` order, or None), the reference-split row of each (``rows``, -1 for none) and where they came
    from."""

    ids: list[str]
    tokens: np.ndarray
    source: str
    labels: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    rows: np.ndarray | None = None
    reference_split: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def select(self, index: int) -> "ScoringInput":
        """The one sequence at ``index``."""
        part = slice(index, index + 1)
        return ScoringInput([self.ids[index]], self.tokens[part], self.source,
                            None if self.labels is None else self.labels[part], self.label_names,
                            None if self.rows is None else self.rows[part], self.reference_split, self.metadata)

    def find(self, record: str) -> int:
        """Index of the sequence with id ``record``, or of the ``record``-th sequence (counted from 1)."""
        if record in self.ids:
            return self.ids.index(record)
        if record.isdigit() and 1 <= int(record) <= len(self):
            return int(record) - 1
        raise D3UserError(f"--record {record!r}: no such record in {self.source} (give an id such as {self.ids[0]!r} "
                          f"or a number 1..{len(self)})")


def read_sequences(path: str | os.PathLike, length: int) -> ScoringInput:
    """Read a sequence file for scoring (format from the extension), checking every record against ``length``."""
    from d3core.seqfiles import format_of, read_sequence_file

    path = Path(path)
    kind = format_of(path)
    if not path.is_file():
        raise D3UserError(f"{path}: no such file")
    ids = None
    if kind == "fasta":
        ids = _check_fasta(path, length)
    elif kind == "h5":
        _check_h5(path)
    samples = read_sequence_file(path)
    if ids is None:
        ids = [f"d3_{i}" for i in samples.index] if samples.index is not None else \
            [str(i + 1) for i in range(len(samples))]
    if samples.length != length:
        raise D3UserError(f"{path}: record {ids[0]!r} is {samples.length} bp; the model scores {length} bp sequences")
    return ScoringInput(ids, samples.tokens, str(path), samples.labels, list(samples.label_names), samples.rows,
                        samples.reference_split, dict(samples.metadata))


def _check_fasta(path: Path, length: int) -> list[str]:
    """The record ids of a FASTA file; a wrong length or a letter other than ACGT is an error naming the record."""
    from d3core.data.readers import read_fasta_records

    ids = []
    for number, record in enumerate(read_fasta_records(path), start=1):
        name = record.header.split()[0] if record.header.split() else str(number)
        where = f"{path}: record {name!r} (line {record.line})"
        if len(record.sequence) != length:
            raise D3UserError(f"{where} is {len(record.sequence)} bp; the model scores {length} bp sequences (fix or "
                              "drop that record)")
        bad = _NOT_ACGT.search(record.sequence)
        if bad:
            raise D3UserError(f"{where}: letter {bad.group()!r} at position {bad.start() + 1} is not A, C, G or T; "
                              "the likelihood is defined for ACGT sequences only (fix or drop that record)")
        ids.append(name)
    return ids


def _check_h5(path: Path) -> None:
    from d3core.data.arrays import open_arrays
    from d3core.seqfiles.records import FIX as SAMPLE_FIX

    with open_arrays(path, fix=SAMPLE_FIX) as f:
        keys = f.keys
    if "tokens" not in keys:
        raise D3UserError(f"{path}: no 'tokens' dataset (keys: {', '.join(keys)}); to score a split of a dataset "
                          "file use --split test --data FILE")


def read_split(model, split: str, *, data: str | os.PathLike | None = None, limit: int | None = None) -> ScoringInput:
    """The sequences of a split of the model's dataset file (or ``data``), with their measured labels (NaN where a
    file with missing labels has no measurement)."""
    dataset = model.dataset()
    path = Path(data) if data is not None else model.data_path()
    opened = dataset.open_split(path, split)
    n = len(opened) if limit is None else min(int(limit), len(opened))
    tokens, labels = [], []
    for start in range(0, n, 65536):
        x, y = opened.read_batch(np.arange(start, min(start + 65536, n)))
        tokens.append(x.numpy().astype(np.uint8))
        labels.append(y.numpy().astype(np.float32))
        opened.check_finite(labels[-1], first_row=start, missing=True)  # NaN: not measured (labels_for decides)
    if not tokens:
        raise D3UserError(f"{path}: split {split!r} holds no sequences")
    tokens_all = np.concatenate(tokens)
    if tokens_all.shape[1] != model.length:
        raise D3UserError(f"{path}: split {split!r} has {tokens_all.shape[1]} bp sequences; the model scores "
                          f"{model.length} bp")
    names = list(opened.label_names)
    return ScoringInput([f"{split}:{i}" for i in range(n)], tokens_all, f"{path} ({split} split)",
                        np.concatenate(labels) if names else None, names, np.arange(n, dtype=np.int64), split)


def labels_for(model, scored: ScoringInput, *, labels: Sequence[str] = (), labels_from: str | None = None,
               data: str | os.PathLike | None = None, unconditional: bool = False) -> tuple[np.ndarray | None, str]:
    """The condition of each sequence and a description: ``(labels [N, C] | [1, C] | None, "how")``.

    Order: ``--labels`` (one row for all, or one per sequence) > ``--labels-from SPLIT`` (the sequence's recorded
    reference row, else row i for sequence i) > the labels stored with the sequences (FASTA headers of ``d3 sample``,
    NPZ/HDF5 ``labels``, a split's measurements). None: unconditional.

    Stored labels with NaN (a split of a file with missing labels): a model with per-label nulls scores each row
    under the labels it has (the missing ones unconditioned, as it was trained); any other model refuses them in one
    line (:meth:`~d3core.generation.sampling_model.SamplingModel.check_measured`).
    """
    if unconditional or not model.num_labels:
        if labels or labels_from:
            what = "--unconditional scores" if unconditional else f"{model.checkpoint} is an unconditional model:"
            raise D3UserError(f"{what} without labels; drop --labels/--labels-from")
        return None, "unconditional" if unconditional else "the model is unconditional"
    n = len(scored)
    if labels and labels_from:
        raise D3UserError("--labels and --labels-from exclude each other; give one")
    if labels:
        rows = model.parse_labels(list(labels))
        if len(rows) not in (1, n):
            raise D3UserError(f"--labels gives {len(rows)} label rows for {n} sequences; give one row for all, or one "
                              "per sequence")
        return rows, f"--labels ({len(rows)} row(s))"
    if labels_from:
        return _split_rows(model, scored, labels_from, data), f"--labels-from {labels_from}"
    example = ",".join(f"{name}=1.0" for name in model.label_names)
    if scored.labels is not None and scored.label_names:
        rows = _in_model_order(model, scored)
        model.check_measured(rows, scored.source, fix=f"score under labels you give (--labels {example}, one row for "
                                                      "all) or --unconditional")
        missing = int(np.isnan(rows).any(axis=1).sum())
        return rows, f"the labels stored in {scored.source}" + (
            f"; {missing} row(s) lack a measured label, scored unconditioned on it" if missing else "")
    raise D3UserError(f"{scored.source} carries no labels and the model is conditioned on "
                      f"{', '.join(model.label_names)}: give --labels {example} (or a CSV of one row per sequence), "
                      "--labels-from test, or --unconditional")


def _split_rows(model, scored: ScoringInput, split: str, data) -> np.ndarray:
    all_labels, _ = model.split_labels(split, data=data)
    rows = scored.rows
    if rows is not None and scored.reference_split == split and len(rows) and (rows >= 0).all():
        if rows.max() >= len(all_labels):
            raise D3UserError(f"{scored.source}: reference row {int(rows.max())} is beyond the {len(all_labels)} rows "
                              f"of the {split} split; was it sampled from another data file? (--data)")
        return all_labels[rows]
    if len(all_labels) < len(scored):
        raise D3UserError(f"--labels-from {split}: the split has {len(all_labels)} rows for {len(scored)} sequences; "
                          "give --labels instead")
    return all_labels[:len(scored)]


def _in_model_order(model, scored: ScoringInput) -> np.ndarray:
    """The stored labels reordered to the model's label names (matched case-insensitively)."""
    stored = {name.lower(): i for i, name in enumerate(scored.label_names)}
    missing = [name for name in model.label_names if name.lower() not in stored]
    if missing or len(stored) != len(model.label_names):
        raise D3UserError(f"{scored.source}: its labels ({', '.join(scored.label_names)}) are not the model's "
                          f"({', '.join(model.label_names)}); give --labels or --unconditional")
    order = [stored[name.lower()] for name in model.label_names]
    return np.asarray(scored.labels, np.float32)[..., order]
