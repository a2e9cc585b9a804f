"""``.npz`` sequence files (arrays: :mod:`d3core.seqfiles.array_file`), written chunk by chunk
(:class:`d3core.seqfiles.npz_stream.NpzColumns`: every numeric array spooled to disk; text columns, short, kept in
memory until the end)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from d3core.seqfiles.npz_stream import NpzColumns
from d3core.seqfiles.array_file import read
from d3core.seqfiles.records import metadata_text

__all__ = ["Writer", "read"]


class Writer:
    """See :mod:`d3core.seqfiles.table` for the protocol."""

    def __init__(self, tmp: Path, label_names, column_names, stored: dict, length: int):
        self._tmp, self._length = tmp, length
        self._fixed = {"label_names": np.asarray(label_names, dtype=str),
                       "column_names": np.asarray(column_names, dtype=str),
                       "metadata": np.asarray(metadata_text(stored))}
        self._arrays = NpzColumns(tmp)
        self._text: dict[str, list[np.ndarray]] = {}

    def write(self, index, tokens, labels, rows, columns) -> None:
        self._arrays.append("tokens", tokens)
        self._arrays.append("index", index)
        if labels is not None:
            self._arrays.append("labels", labels)
        self._arrays.append("rows", rows if rows is not None else np.full(len(tokens), -1, np.int64))
        for name, values in columns.items():
            if values.dtype.kind == "U":
                self._text.setdefault(name, []).append(values)
            else:
                self._arrays.append(name, values)

    def finish(self) -> None:
        for name, default in (("tokens", np.zeros((0, self._length), np.uint8)), ("index", np.zeros(0, np.int64)),
                              ("rows", np.zeros(0, np.int64))):
            if name not in self._arrays:
                self._arrays.append(name, default)
        text = {name: np.concatenate(parts) for name, parts in self._text.items()}
        self._arrays.write_npz(self._tmp, {**text, **self._fixed})

    def discard(self) -> None:
        self._arrays.discard()
