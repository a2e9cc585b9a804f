"""HDF5 sequence files (``.h5``, ``.hdf5``; datasets and attributes: :mod:`d3core.seqfiles.array_file`), written
chunk by chunk into resizable datasets (text columns as variable-length strings) through
:class:`d3core.h5_output.H5Output`, so a file-size limit or a full disk is a one-line error, not a crash."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from d3core.h5_output import H5Output
from d3core.seqfiles.array_file import read
from d3core.seqfiles.records import metadata_text

__all__ = ["Writer", "read"]


class Writer:
    """See :mod:`d3core.seqfiles.table` for the protocol."""

    def __init__(self, tmp: Path, label_names, column_names, stored: dict, length: int):
        self._output = H5Output(tmp)
        self._h5 = self._output.file
        self._h5.attrs["label_names"] = json.dumps(list(label_names))
        self._h5.attrs["column_names"] = json.dumps(list(column_names))
        self._h5.attrs["metadata"] = metadata_text(stored)
        self._length, self._count, self._has_labels = length, 0, True

    def _append(self, key: str, value: np.ndarray) -> None:
        import h5py

        if key not in self._h5:
            text = value.dtype.kind == "U"
            chunks = (max(1, min(1024, (1 << 20) // max(value[0].size if len(value) else 1, 1))), *value.shape[1:])
            self._h5.create_dataset(key, shape=(0, *value.shape[1:]), maxshape=(None, *value.shape[1:]),
                                    dtype=h5py.string_dtype() if text else value.dtype, chunks=chunks,
                                    compression="gzip" if key == "tokens" else None)
        data = self._h5[key]
        data.resize(self._count + len(value), axis=0)
        data[self._count:] = value.astype(object) if value.dtype.kind == "U" else value

    def write(self, index, tokens, labels, rows, columns) -> None:
        arrays = {"tokens": tokens, "index": index, "rows": rows if rows is not None else np.full(len(tokens), -1)}
        if labels is not None:
            arrays["labels"] = labels
        self._has_labels = self._has_labels and labels is not None
        for key, value in {**arrays, **columns}.items():
            self._append(key, np.asarray(value))
        self._count += len(tokens)
        self._output.raise_if_failed()

    def finish(self) -> None:
        if "tokens" not in self._h5:
            self._append("tokens", np.zeros((0, self._length), np.uint8))
        self._h5.attrs["has_labels"] = self._has_labels
        self._output.close()

    def discard(self) -> None:
        self._output.discard()
