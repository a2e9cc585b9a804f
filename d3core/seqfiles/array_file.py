"""Reading the array formats (``.npz`` and ``.h5``), which hold the same arrays: ``tokens`` uint8 [N, L] (token
indices, not one-hot), ``index`` int64 [N], ``labels`` float32 [N, C], ``rows`` int64 [N] and one array [N] per extra
column (numbers, or text as str). The names (``label_names``, ``column_names``) and the ``metadata`` (JSON) are .npz
arrays or HDF5 attributes. Opened by :func:`d3core.data.arrays.open_arrays` (no pickles; every damaged file is a
one-line error naming the file and key)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from d3core.data.arrays import label_array, open_arrays, row_array, token_array
from d3core.errors import D3UserError
from d3core.seqfiles.records import COLUMNS_KEY, FIX, SequenceSet, json_value

#: array names a file holds besides its extra columns
FIXED = ("tokens", "index", "labels", "rows", "label_names", "column_names", "metadata")


def _names(f, key: str) -> list[str]:
    if f.kind == "npz":
        return [str(n) for n in f.array(key).reshape(-1)] if key in f else []
    return [str(n) for n in json_value(f.path, key, f.attribute(key, "[]"), list)]


def _column(path: Path, key: str, array: np.ndarray, rows: int) -> np.ndarray:
    """Extra column ``key`` as ``float64 [rows]`` or ``str [rows]``."""
    if array.dtype.kind not in "biufUSO" or array.shape != (rows,):
        raise D3UserError(f"{path}: key {key!r} is {array.dtype} with shape {list(array.shape)}; an extra column must "
                          f"hold {rows} numbers or texts (one per sequence); {FIX}")
    if array.dtype.kind in "SO":  # HDF5 text: bytes
        return np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in array], str)
    return array.astype(str) if array.dtype.kind == "U" else array.astype(np.float64)


def read(path: Path) -> SequenceSet:
    """The :class:`SequenceSet` of an ``.npz`` or ``.h5`` sequence file."""
    with open_arrays(path, fix=FIX) as f:
        if "tokens" not in f:
            raise D3UserError(f"{path}: no 'tokens' array (keys: {', '.join(f.keys) or 'none'}); not a d3 sequence "
                              "file (dataset files are read with --data; d3 sample files hold token indices under "
                              "'tokens')")
        tokens = token_array(path, "tokens", f.array("tokens"), fix=FIX)
        names = _names(f, "label_names")
        column_names = _names(f, "column_names")
        meta = str(f.array("metadata")) if f.kind == "npz" and "metadata" in f else f.attribute("metadata", "{}")
        metadata = json_value(path, "metadata", meta, dict)
        metadata.pop(COLUMNS_KEY, None)
        has_labels = "labels" in f and bool(f.attribute("has_labels", True))
        labels = label_array(path, "labels", f.array("labels"), len(tokens), names, fix=FIX) if has_labels else None
        rows = row_array(path, "rows", f.array("rows"), len(tokens), fix=FIX) if "rows" in f else None
        index = row_array(path, "index", f.array("index"), len(tokens), fix=FIX) if "index" in f else \
            int(metadata.get("first_index", 0)) + np.arange(len(tokens), dtype=np.int64)
        columns = {name: _column(path, name, f.array(name), len(tokens)) for name in column_names}
    return SequenceSet(tokens, labels, names if labels is not None else [], rows, metadata, index, columns)
