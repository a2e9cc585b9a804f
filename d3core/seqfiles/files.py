"""Writing and reading a sequence file in the format its suffix names (:mod:`d3core.seqfiles.table`).

:class:`SequenceWriter` streams (no format holds more than one chunk in memory but an ``.npz``'s text columns) and
commits atomically: the file appears under its name only when complete. Each format module
(:data:`~d3core.seqfiles.table.IMPLEMENTATIONS`) holds a ``Writer`` with
``__init__(tmp, label_names, column_names, stored_metadata, length)``, ``write(index, tokens, labels, rows,
columns)``, ``finish()`` and ``discard()``, and a ``read(path) -> SequenceSet``. :func:`read_sequence_file` checks
what every reader hands on: sequences present, labels finite (NaN only in files of models with per-label nulls).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from d3core.atomic import AtomicWriter
from d3core.data.arrays import check_finite_labels
from d3core.errors import D3UserError
from d3core.seqfiles.array_file import FIXED
from d3core.seqfiles.records import FIX, SequenceSet, column_array, stored_metadata
from d3core.seqfiles.table import IMPLEMENTATIONS, format_of


def _module(kind: str):
    return importlib.import_module(f"d3core.seqfiles.{IMPLEMENTATIONS[kind].partition(':')[0]}")


class SequenceWriter(AtomicWriter):
    """Write a sequence file chunk by chunk: ``with SequenceWriter(path, names, metadata) as w: w.write(tokens,
    labels)``.

    Committed (renamed into place) when the ``with`` block ends without an exception; otherwise the temporary file is
    removed and an existing file of that name is left untouched. Ids count from ``first_index`` (``d3_<first_index>``,
    ...) unless a chunk gives its ``index``. ``column_names``: the extra columns every chunk gives.
    """

    def __init__(self, path: str | os.PathLike, label_names: Sequence[str] = (), metadata: dict | None = None, *,
                 column_names: Sequence[str] = (), overwrite: bool = False, first_index: int = 0):
        self.path = Path(path)
        self.format = format_of(self.path)
        if self.path.exists() and not overwrite:
            raise D3UserError(f"{self.path}: already exists; choose another -o or pass --force to replace it")
        if self.path.is_dir():
            raise D3UserError(f"{self.path}: is a directory; -o needs a file name such as samples.fasta")
        self.label_names = [str(n) for n in label_names]
        self.column_names = [str(n) for n in column_names]
        clash = [n for n in self.column_names if n in FIXED or n in self.label_names or "/" in n]
        if clash:
            raise ValueError(f"extra columns {clash} clash with a label or a reserved array name")
        self.metadata = dict(metadata or {})
        self.next_index = int(first_index)
        self.count = 0
        self._writer = None
        super().__init__(self.path)

    def _open_handles(self) -> None:
        self._writer = getattr(_module(self.format), IMPLEMENTATIONS[self.format].partition(":")[2])(
            self.tmp, self.label_names, self.column_names, stored_metadata(self.metadata, self.column_names),
            int(self.metadata.get("length", 0)))

    def write(self, tokens: np.ndarray, labels: np.ndarray | None = None, rows: np.ndarray | None = None,
              columns: dict[str, np.ndarray] | None = None, index: np.ndarray | None = None) -> None:
        """Append sequences ``tokens [b, L]`` with their ``labels [b, C]``, reference rows ``[b]``, extra ``columns``
        (name -> ``[b]``, every name of ``column_names``) and indices ``index [b]`` (default: counting on)."""
        tokens = np.asarray(tokens, dtype=np.uint8)
        b = tokens.shape[0]
        if labels is not None:
            labels = np.asarray(labels, dtype=np.float32)
            if labels.size != b * len(self.label_names):
                raise ValueError(f"labels of shape {labels.shape} for {b} sequences and names {self.label_names}")
            labels = labels.reshape(b, len(self.label_names))
        rows = None if rows is None else np.asarray(rows, dtype=np.int64).reshape(b)
        columns = {name: column_array(columns[name]).reshape(b) for name in self.column_names}
        index = self.next_index + np.arange(b, dtype=np.int64) if index is None else \
            np.asarray(index, np.int64).reshape(b)
        self._writer.write(index, tokens, labels, rows, columns)
        self.next_index = int(index[-1]) + 1 if b else self.next_index
        self.count += b

    def _finish(self) -> None:
        self._writer.finish()

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.discard()


def write_sequence_file(path: str | os.PathLike, sequences: SequenceSet, *, overwrite: bool = False) -> Path:
    """Write a whole :class:`SequenceSet` (format from the suffix), atomically."""
    metadata = dict(sequences.metadata)
    metadata.setdefault("length", sequences.length)
    with SequenceWriter(path, sequences.label_names, metadata, column_names=list(sequences.columns),
                        overwrite=overwrite, first_index=int(metadata.get("first_index", 0))) as writer:
        writer.write(sequences.tokens, sequences.labels, sequences.rows, sequences.columns, sequences.index)
    return Path(path)


def read_sequence_file(path: str | os.PathLike, *, empty_ok: bool = False) -> SequenceSet:
    """Read a sequence file written by :func:`write_sequence_file` (or any FASTA/CSV/TSV of equal-length ACGT
    sequences); every bad file is a one-line :class:`D3UserError` naming the file and the line or key. ``empty_ok``:
    a file of no sequences is a set of none (a design shard whose designs the synthesis rules all left out)."""
    path = Path(path)
    kind = format_of(path)
    if not path.is_file():
        raise D3UserError(f"{path}: no such sequence file")
    sequences = _module(kind).read(path)
    if len(sequences) == 0 and not empty_ok:
        raise D3UserError(f"{path}: holds no sequences; {FIX}")
    if sequences.labels is not None:
        check_finite_labels(f"{path}: labels of sequence", sequences.labels, sequences.label_names, fix=FIX,
                            missing=bool(sequences.metadata.get("label_subsets")))  # NaN: a label unconditioned
    return sequences
