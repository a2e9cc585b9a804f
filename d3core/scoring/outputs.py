"""``d3 score`` outputs, written atomically (the format follows the extension).

==========  =====================================================================================================
scores      ``.tsv`` / ``.csv``: ``id, nats, nats_stderr, bits_per_base, bits_per_base_stderr`` then the labels scored
            under (one column per label) and, with ``--per-position``, ``pos1 .. posL`` (nats). ``.npz``: the same
            columns as arrays (``ids`` str [N], ``per_position`` [N, L], ``draws`` [N, K], ``labels`` [N, C],
            ``label_names`` [C]) and ``metadata`` (a JSON string); read with ``np.load(allow_pickle=False)``.
mutations   ``.tsv`` / ``.csv``: rows ``A, C, G, T`` (the change of the bound in nats when that base is put at that
            position; 0 at the reference base) then ``A_stderr .. T_stderr``; columns ``base`` and one per position
            named ``<position><reference base>`` (``1G``, ``2A``, ...). ``.npz``: ``delta`` [4, L], ``delta_stderr``
            [4, L], ``reference`` str, ``reference_nats``, ``reference_nats_stderr``, ``metadata``. A PNG heat map
            beside it (:func:`d3core.evaluation.plots.mutation_heatmap`).
==========  =====================================================================================================
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from d3core.atomic import atomic_write_text, write_atomically
from d3core.errors import D3UserError

TABLE_FORMATS = {".tsv": "\t", ".txt": "\t", ".csv": ","}
FORMATS = (*TABLE_FORMATS, ".npz")


def check_output(path: str | os.PathLike, *, force: bool = False) -> Path:
    """``path`` if it can be written: a known extension, not a folder, not an existing file unless ``force``."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise D3UserError(f"{path}: unknown output type {path.suffix or '(no extension)'!r}; use one of "
                          f"{', '.join(FORMATS)}")
    if path.is_dir():
        raise D3UserError(f"{path}: is a directory; -o needs a file name such as scores.tsv")
    if path.exists() and not force:
        raise D3UserError(f"{path}: already exists; choose another -o or pass --force to replace it")
    return path


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def score_rows(ids: Sequence[str], scores, labels: np.ndarray | None, label_names: Sequence[str]) -> tuple[list, list]:
    """``(header, rows)`` of the scores table."""
    header = ["id", "nats", "nats_stderr", "bits_per_base", "bits_per_base_stderr"]
    with_labels = labels is not None and labels.ndim == 2
    if with_labels:
        header += list(label_names)
        labels = np.broadcast_to(labels, (len(ids), labels.shape[1]))
    if scores.per_position is not None:
        header += [f"pos{i + 1}" for i in range(scores.per_position.shape[1])]
    rows = []
    for i, name in enumerate(ids):
        row = [name, _fmt(scores.nats[i]), _fmt(scores.nats_stderr[i]), _fmt(scores.bits_per_base[i]),
               _fmt(scores.bits_per_base_stderr[i])]
        if with_labels:
            row += [_fmt(v) for v in labels[i]]
        if scores.per_position is not None:
            row += [_fmt(v) for v in scores.per_position[i]]
        rows.append(row)
    return header, rows


def table_text(header: list, rows: list, delimiter: str = "\t") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_scores(path: str | os.PathLike, ids: Sequence[str], scores, labels: np.ndarray | None,
                 label_names: Sequence[str], metadata: dict[str, Any]) -> Path:
    """Write the per-sequence scores to ``path`` (``.tsv``, ``.csv`` or ``.npz``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TABLE_FORMATS:
        header, rows = score_rows(ids, scores, labels, label_names)
        return atomic_write_text(path, table_text(header, rows, TABLE_FORMATS[suffix]))
    arrays = {"ids": np.asarray(list(ids), dtype=str), "nats": scores.nats, "nats_stderr": scores.nats_stderr,
              "bits_per_base": scores.bits_per_base, "bits_per_base_stderr": scores.bits_per_base_stderr,
              "draws": scores.draws, "label_names": np.asarray(list(label_names), dtype=str),
              "metadata": np.asarray(json.dumps(metadata, default=str))}
    if labels is not None:
        arrays["labels"] = np.ascontiguousarray(np.broadcast_to(labels, (len(ids), *labels.shape[1:])))
    if scores.per_position is not None:
        arrays["per_position"] = scores.per_position
    return _write_npz(path, arrays)


def write_mutations(path: str | os.PathLike, scan, metadata: dict[str, Any]) -> Path:
    """Write a :class:`~d3core.scoring.mutations.MutationScan` to ``path`` (``.tsv``, ``.csv`` or ``.npz``)."""
    from d3core.scoring.mutations import BASES

    path = Path(path)
    suffix = path.suffix.lower()
    reference = "".join(BASES[int(b)] for b in scan.reference)
    if suffix in TABLE_FORMATS:
        header = ["base"] + [f"{i + 1}{base}" for i, base in enumerate(reference)]
        rows = [[b] + [_fmt(v) for v in scan.delta[j]] for j, b in enumerate(BASES)]
        rows += [[f"{b}_stderr"] + [_fmt(v) for v in scan.delta_stderr[j]] for j, b in enumerate(BASES)]
        return atomic_write_text(path, table_text(header, rows, TABLE_FORMATS[suffix]))
    ref = scan.reference_scores
    return _write_npz(path, {"delta": scan.delta, "delta_stderr": scan.delta_stderr,
                             "reference": np.asarray(reference), "reference_nats": ref.nats[0],
                             "reference_nats_stderr": ref.nats_stderr[0],
                             "metadata": np.asarray(json.dumps(metadata, default=str))})


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    return write_atomically(path, write)
