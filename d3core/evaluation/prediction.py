"""``d3 oracle predict``: sequences from a file -> a table of oracle predictions (and embeddings).

Inputs: FASTA (ids from the headers), d3 sample and design files (any format of :mod:`d3core.seqfiles`; read by
:func:`d3core.seqfiles.read_sequence_file`), or one array of any ``.npz``/``.h5`` file (``--key``; one-hot ``[N, 4, L]``
or ``[N, L, 4]``, or tokens ``[N, L]``; e.g. a dataset file's ``X_test`` or the original's ``arr_0`` sample arrays).
Output: a tab-separated table (comma-separated for ``.csv``), one row per sequence: ``id``, one column per oracle
label, then ``emb_0 ... emb_{E-1}`` with ``embedding=True``; written in chunks to a temporary file, then renamed.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from d3core.errors import D3UserError

CHUNK = 4096


#: how to mend an array file d3 cannot read
ARRAY_FIX = "give a d3 sample file, FASTA, or an .npz/.h5 array of tokens [N, L] or one-hot [N, 4, L] with --key"


def _array_tokens(path: Path, array: np.ndarray, key: str) -> np.ndarray:
    from d3core.data.arrays import token_array
    from d3core.data.encoding import tokens_from_one_hot

    if array.ndim == 3 and 4 in array.shape[1:] and array.dtype.kind in "biuf":
        axis = 1 if array.shape[1] == 4 else 2
        tokens, unknown = tokens_from_one_hot(array, channel_axis=axis)
        if unknown.any():
            row, position = np.argwhere(unknown)[0]
            raise D3UserError(f"{path}: {key!r} row {row} position {position} is not one-hot (an N?); the oracle "
                              "scores A, C, G, T only")
        return tokens.astype(np.uint8)
    return token_array(path, key, array, fix=ARRAY_FIX)


def _read_array(path: Path, key: str | None) -> tuple[list[str], np.ndarray]:
    from d3core.data.arrays import open_arrays

    with open_arrays(path, fix=ARRAY_FIX) as f:
        key = key or (f.keys[0] if len(f.keys) == 1 else None)
        if key is None or key not in f:
            raise D3UserError(f"{path}: name the array with --key (arrays: {', '.join(f.keys) or 'none'})")
        array = f.array(key)
    tokens = _array_tokens(path, array, key)
    return [str(i) for i in range(len(tokens))], tokens


def read_sequences(path: str | os.PathLike, *, key: str | None = None) -> tuple[list[str], np.ndarray]:
    """``(ids, tokens uint8 [N, L])`` of a sequence file (see the module docstring)."""
    from d3core.seqfiles import FORMATS, read_sequence_file
    from d3core.seqfiles.records import sequence_id
    from d3core.seqfiles.table import suffix_list

    path = Path(path)
    if not path.is_file():
        raise D3UserError(f"{path}: no such file")
    kind = FORMATS.get(path.suffix.lower())
    if kind == "fasta":
        from d3core.data.encoding import encode
        from d3core.data.importing import read_fasta

        source = read_fasta(path)
        tokens = encode(source.sequences, source=str(path), rows=source.lines, unit="line", can_replace=False)
        return list(source.columns["id"]), tokens
    if kind in ("npz", "h5") and key is not None:
        return _read_array(path, key)
    if kind is None:
        raise D3UserError(f"{path}: unknown sequence file type {path.suffix or '(no extension)'!r}; use a d3 sequence "
                          f"file ({suffix_list()}) or an .npz/.h5 array with --key")
    try:
        samples = read_sequence_file(path)
    except D3UserError as exc:
        if kind in ("npz", "h5") and "tokens" in str(exc):
            return _read_array(path, None)
        raise
    index = samples.index if samples.index is not None else range(len(samples))
    return [sequence_id(int(i)) for i in index], samples.tokens


def write_predictions(out: str | os.PathLike, oracle, ids: list[str], tokens: np.ndarray, *,
                      embedding: bool = False, batch_size: int = 512) -> Path:
    """Predict in chunks and write the table (atomically)."""
    from d3core.atomic import write_atomically

    out = Path(out)
    delimiter = "," if out.suffix.lower() == ".csv" else "\t"

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            header = ["id", *oracle.label_names]
            for start in range(0, len(tokens), CHUNK):
                chunk = tokens[start:start + CHUNK]
                predicted = oracle.predict(chunk, batch_size=batch_size)
                embedded = oracle.embed(chunk, batch_size=batch_size) if embedding else None
                if start == 0:
                    if embedded is not None:
                        header += [f"emb_{j}" for j in range(embedded.shape[1])]
                    writer.writerow(header)
                for i in range(len(chunk)):
                    row = [ids[start + i], *(f"{v:.8g}" for v in predicted[i])]
                    if embedded is not None:
                        row += [f"{v:.8g}" for v in embedded[i]]
                    writer.writerow(row)

    if embedding and not oracle.has_embedding:
        oracle.embed(tokens[:1])  # the one-line error, before anything is written
    return write_atomically(out, write)
