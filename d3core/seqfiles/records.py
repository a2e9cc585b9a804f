"""What a sequence file holds (:class:`SequenceSet`) and the pieces its text formats (FASTA, CSV, TSV) share.

A sequence set is sequences (tokens 0..3 = A, C, G, T, ``uint8 [N, L]``), the labels each was conditioned on
(``float32 [N, C]`` with their names), optionally the reference-split row each was drawn for (``int64 [N]``, ``-1``
for none), named extra columns (``float64 [N]`` numbers or ``str [N]`` text: a design's ``objective``,
``oracle:<name>`` predictions, ``bits_per_base``, ``edits``, ...), metadata (checkpoint, seed, options, ...) and each
sequence's index ``i`` in its whole set (its id ``d3_<i>``; a shard starts at its ``first_index``, a design set has
gaps where a synthesis rule left a design out).

The text formats keep labels and extra columns apart by the stored metadata: its ``d3:columns`` lists the extra
columns (every other numeric field is a label). A file without it (written by hand, or by an older d3) reads fields
tagged ``label:<name>`` as labels and the rest as extra columns, or, with no tag, every numeric field as a label.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from d3core.data.encoding import decode, encode
from d3core.errors import D3UserError

FORMAT_VERSION = 1
#: how to mend a sequence file d3 cannot read (ends every such error)
FIX = "write it again with d3 sample or d3 design, or give the sequences as FASTA"
#: the FASTA header field and CSV/TSV column of a file's metadata (JSON), in its first record
META_FIELD = "d3:meta"
#: the stored-metadata key listing the extra columns (kept out of :attr:`SequenceSet.metadata`)
COLUMNS_KEY = "d3:columns"
#: the tag of a label field in files of older d3 design runs (``label:dev=2``)
LABEL_TAG = "label:"
#: names a text row holds besides labels and extra columns
RESERVED = ("id", "sequence", "ref", META_FIELD)


@dataclass
class SequenceSet:
    """Sequences, what they were conditioned on and what was measured on them (one row per sequence)."""

    tokens: np.ndarray
    labels: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    rows: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: ``int64 [N]``: each sequence's index in its whole set (id ``d3_<i>``); None: unknown (a foreign file)
    index: np.ndarray | None = None
    #: extra per-sequence columns: name -> ``float64 [N]`` or ``str [N]``, in file order
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def length(self) -> int:
        return int(self.tokens.shape[1])

    @property
    def sequences(self) -> list[str]:
        return decode(self.tokens) if len(self) else []

    @property
    def reference_split(self) -> str | None:
        return self.metadata.get("reference_split")


def sequence_id(index: int) -> str:
    """The id of the sequence with index ``index`` in its set: ``d3_<index>``."""
    return f"d3_{index}"


def index_of_ids(ids: Sequence[str]) -> np.ndarray | None:
    """Indices from ``d3_<i>`` ids (``d3_design_<i>`` of older design files too); None unless every id has that
    form."""
    numbers = [re.fullmatch(r"d3_(?:design_)?(\d+)", str(i).strip()) for i in ids]
    return np.asarray([int(m.group(1)) for m in numbers], np.int64) if numbers and all(numbers) else None


def column_array(values) -> np.ndarray:
    """An extra column as ``float64 [N]``, or ``str [N]`` when it holds text (``edits``: ``12:A>G;40:C>T``)."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype.kind in "USO" else values.astype(np.float64)


def format_value(value: float, dtype: type = np.float32) -> str:
    """The shortest text that reads back to the same ``dtype`` value (``4``, ``0.33333334``, ``3e+09``, ``nan``)."""
    value = dtype(value)
    if value != 0 and not 1e-4 <= abs(value) < 1e7:
        return np.format_float_scientific(value, unique=True, trim="-")
    text = np.format_float_positional(value, unique=True, trim="-")
    return "0" if text == "-0" else text


def column_text(value) -> str:
    """One cell of an extra column: text as is, a number as the shortest text that reads back to it."""
    return value if isinstance(value, str) else format_value(value, np.float64)


def metadata_text(metadata: dict) -> str:
    return json.dumps(metadata, separators=(",", ":"), default=str)


def stored_metadata(metadata: dict, column_names: Sequence[str]) -> dict:
    """The metadata a file stores: the format version, the run's metadata and the extra columns' names (when there
    are any)."""
    return {"d3_samples_version": FORMAT_VERSION, **metadata, **({COLUMNS_KEY: list(column_names)} if column_names
                                                                 else {})}


def json_value(path: Path, key: str, text, kind: type):
    """A JSON value of type ``kind`` stored under ``key`` (text), else a :class:`D3UserError`."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise D3UserError(f"{path}: {key!r} is not valid JSON ({' '.join(str(exc).split())}); was the file edited? "
                          f"{FIX}") from None
    if not isinstance(value, kind):
        raise D3UserError(f"{path}: {key!r} is a JSON {type(value).__name__}, not a {kind.__name__}; {FIX}")
    return value


def flanks_of(metadata: dict) -> tuple[str, str]:
    """The construct adapters (left, right) a text file writes around every sequence (``construct_flanks``)."""
    left, right = metadata.get("construct_flanks") or ("", "")
    return str(left).upper(), str(right).upper()


def ref_text(split: str | None, row: int) -> str:
    """``test:17``: the reference row a sequence was drawn for ('' for none)."""
    return f"{split or 'row'}:{row}" if row >= 0 else ""


def _parse_ref(text: str) -> tuple[str | None, int]:
    split, _, row = text.rpartition(":")
    try:
        return (split or None), int(row)
    except ValueError:
        return None, -1


@dataclass
class TextRecord:
    """One row of a text file: its id, sequence, line number and other fields (name -> text)."""

    id: str
    sequence: str
    line: int
    fields: dict[str, str]


def _floats(records: list[TextRecord], name: str) -> np.ndarray | None:
    try:
        return np.asarray([float(r.fields.get(name, "nan")) for r in records], np.float64)
    except ValueError:
        return None


def from_text(path: Path, records: list[TextRecord], stored: dict, *, unit: str) -> SequenceSet:
    """The :class:`SequenceSet` of a text file's ``records`` and its ``stored`` metadata (construct adapters
    stripped, labels and extra columns told apart as the module docstring says)."""
    stored = dict(stored)
    extra = stored.pop(COLUMNS_KEY, None)
    names = list(dict.fromkeys(k for r in records for k in r.fields if k not in RESERVED))
    if extra is not None:
        label_names = [n for n in names if n not in extra]
    elif any(n.startswith(LABEL_TAG) for n in names):
        label_names = [n for n in names if n.startswith(LABEL_TAG)]
        extra = [n for n in names if n not in label_names]
    else:
        label_names, extra = names, []
    labels = None
    if label_names and all(all(n in r.fields for n in label_names) for r in records):
        values = [_floats(records, n) for n in label_names]
        if all(v is not None for v in values):
            labels = np.stack(values, axis=1).astype(np.float32)
    if labels is None:  # text columns, or labels not on every record: not labels
        label_names = []
    columns = {}
    for name in extra:
        numbers = _floats(records, name)
        columns[name] = numbers if numbers is not None else np.asarray([r.fields.get(name, "") for r in records], str)
    split, refs = None, np.full(len(records), -1, np.int64)
    for i, record in enumerate(records):
        if record.fields.get("ref"):
            split, refs[i] = _parse_ref(record.fields["ref"])
    left, right = flanks_of(stored)
    sequences = [_without_flanks(path, r, left, right, unit) for r in records]
    tokens = encode(sequences, source=str(path), rows=[r.line for r in records], unit=unit, can_replace=False) \
        if sequences else np.zeros((0, 0), np.uint8)
    metadata = {**({"reference_split": split} if split else {}), **stored}
    return SequenceSet(tokens, labels, [n.removeprefix(LABEL_TAG) for n in label_names], refs, metadata,
                       index_of_ids([r.id for r in records]), columns)


def _without_flanks(path: Path, record: TextRecord, left: str, right: str, unit: str) -> str:
    sequence = record.sequence.upper()
    if not (left or right):
        return record.sequence
    if not (sequence.startswith(left) and sequence.endswith(right)) or len(sequence) < len(left) + len(right):
        raise D3UserError(f"{path} {unit} {record.line}: {record.id!r} does not carry the construct adapters its "
                          f"metadata names ({left}...{right}); restore them or remove construct_flanks from d3:meta")
    return record.sequence[len(left):len(record.sequence) - len(right)]
