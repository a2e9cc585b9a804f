"""Design files: sequence files (:mod:`d3core.seqfiles`, every format of its table) whose extra columns are the
objective and every measurement per design, written atomically and read back in any format.

A design set is a :class:`~d3core.seqfiles.records.SequenceSet` whose extra columns are, in order, ``objective``,
``oracle:<name>`` (the guiding oracle's predictions), then :attr:`DesignSet.columns` (``bits_per_base``,
``judge:<name>``, ``leash``, ``edits``, ...); its labels are the conditioning labels (``dev``, ``hk``) and its ids
``d3_<i>`` (each design's index in the whole set). Designs made from start sequences (``--start-from``, method
evolve) carry ``edits`` (``12:A>G;40:C>T``: position from 1, start letter, design letter; empty for none) and
``edit_count``. Construct adapters (``construct_flanks`` in the metadata) are written around every sequence of a
FASTA, CSV or TSV file (what is ordered) and taken off when it is read; ``.npz``/``.h5`` keep the elements' tokens.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from d3core.design.driver import DesignSet
from d3core.errors import D3UserError
from d3core.seqfiles import SequenceSet, format_of, read_sequence_file, write_sequence_file

#: the prefix of the guiding oracle's prediction columns
ORACLE_TAG = "oracle:"


def design_format(path: str | os.PathLike) -> str:
    """The format of a design file from its suffix (:mod:`d3core.seqfiles.table`), else a :class:`D3UserError`."""
    return format_of(path, "design")


def write_designs(path: str | os.PathLike, designs: DesignSet, *, overwrite: bool = False) -> Path:
    """Write ``designs`` to ``path`` (format from the suffix), atomically."""
    design_format(path)
    columns = {"objective": designs.objective,
               **{f"{ORACLE_TAG}{n}": designs.predictions[:, i] for i, n in enumerate(designs.prediction_names)},
               **designs.columns}
    return write_sequence_file(path, SequenceSet(designs.tokens, designs.labels, list(designs.label_names), None,
                                                 dict(designs.metadata), designs.ids, columns), overwrite=overwrite)


def read_designs(path: str | os.PathLike) -> DesignSet:
    """Read a design file of any format back (a file without an ``objective`` column is a :class:`D3UserError`);
    ``.npz`` design files of d3 before the one format table (``predictions`` + ``prediction_names`` arrays) too."""
    if design_format(path) == "npz":
        earlier = _read_earlier_npz(path)
        if earlier is not None:
            return earlier
    sequences = read_sequence_file(path, empty_ok=True)
    columns = dict(sequences.columns)
    if "objective" not in columns or columns["objective"].dtype.kind != "f":
        raise D3UserError(f"{path}: not a d3 design file (no numeric 'objective' column; columns: "
                          f"{', '.join(columns) or 'none'}); write it again with d3 design")
    objective = columns.pop("objective")
    names = [n for n in columns if n.startswith(ORACLE_TAG)]
    predictions = np.stack([columns.pop(n) for n in names], axis=1).astype(np.float32) if names else \
        np.zeros((len(sequences), 0), np.float32)
    return DesignSet(sequences.tokens, sequences.labels, list(sequences.label_names), predictions,
                     [n[len(ORACLE_TAG):] for n in names], objective, sequences.metadata, columns, sequences.index)


#: the fixed arrays of a design .npz written before the one format table (every other array is an extra column)
EARLIER_NPZ_ARRAYS = ("tokens", "objective", "predictions", "prediction_names", "labels", "label_names", "metadata",
                      "index")


def _read_earlier_npz(path: str | os.PathLike) -> DesignSet | None:
    """The designs of an ``.npz`` written by d3 before the one format table (``tokens``, ``objective``,
    ``predictions [N, K]`` with ``prediction_names``, ``labels``/``label_names``, ``index``, ``metadata``, one array
    per extra column), or None when the file is not of that layout."""
    import json

    from d3core.data.arrays import open_arrays

    fix = "write it again with d3 design"
    with open_arrays(path, fix=fix) as arrays:
        if not {"predictions", "prediction_names", "objective", "tokens"} <= set(arrays.keys):
            return None
        found = {key: arrays.array(key) for key in arrays.keys}
    try:
        metadata = json.loads(str(found["metadata"])) if "metadata" in found else {}
    except ValueError as exc:
        raise D3UserError(f"{path}: its 'metadata' array is not JSON ({exc}); {fix}") from None
    return DesignSet(found["tokens"].astype(np.uint8), found.get("labels"),
                     [str(n) for n in found.get("label_names", [])], found["predictions"].astype(np.float32),
                     [str(n) for n in found["prediction_names"]], found["objective"].astype(np.float64), metadata,
                     {k: v for k, v in found.items() if k not in EARLIER_NPZ_ARRAYS},
                     found["index"].astype(np.int64) if "index" in found else None)
