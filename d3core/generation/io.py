"""Sample files: FASTA, NPZ, HDF5 and CSV, chosen by the file extension, written atomically and read back.

A sample set is sequences (tokens 0..3 = A, C, G, T, ``uint8 [N, L]``), the labels each was conditioned on
(``float32 [N, C]`` with their names), optionally the reference-split row each was drawn for (``--labels-from``;
``-1`` for none), metadata (checkpoint, steps, predictor, seed, precision, ...) and each sequence's global index
``i`` in its design set (the ``d3_<i>`` id; a ``--shard`` file starts at its first row, ``first_index``).

==========  =====================================================================================================
``.fasta``  ``>d3_<i> dev=4 hk=1.5 ref=test:17`` then the sequence; labels and reference row in the header
            (``.fa``, ``.fna`` too). The first record's header ends with ``d3:meta=<JSON>`` (the metadata, its
            whitespace and ``%`` percent-encoded).
``.npz``    ``tokens`` uint8 [N, L] (token indices, not one-hot), ``labels`` float32 [N, C], ``label_names``
            str [C], ``rows`` int64 [N], ``metadata`` (a JSON string); read without pickles
            (:func:`d3core.data.arrays.open_arrays`).
``.h5``     datasets ``tokens``, ``labels``, ``rows``; attributes ``label_names`` and ``metadata`` (JSON)
            (``.hdf5`` too).
``.csv``    columns ``id,sequence,<label names...>,ref,d3:meta``; the metadata (JSON) in the first row's ``d3:meta``.
==========  =====================================================================================================

Every format carries the metadata that identifies its run (checkpoint hash, seed, options, ``--shard K/N``), so
``d3 merge`` refuses shards of different runs whatever their format. Readers check what they hand on: tokens are
integers 0..3, labels finite numbers (NaN, "unconditioned", only in files of models with per-label nulls, whose
metadata says ``label_subsets``) with one row per sequence, every CSV row has a cell per column; an empty,
truncated or malformed file is one :class:`D3UserError` naming the file, the key or line, and the value.

Writers stream: no format holds more than one chunk in memory (NPZ spools its arrays to temporary files,
:mod:`d3core.generation.npz_stream`). The file appears under its name only when complete (a temporary file beside
it, then ``os.replace``).
"""
from __future__ import annotations

import csv
import json
import os
import re
import string
from urllib.parse import quote, unquote
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from d3core.atomic import AtomicWriter
from d3core.data.encoding import decode, encode
from d3core.data.arrays import check_finite_labels, label_array, open_arrays, row_array, token_array
from d3core.data.readers import read_delimited, read_fasta_records
from d3core.errors import D3UserError, one_line
from d3core.generation.labels import format_labels, format_value
from d3core.generation.npz_stream import NpzColumns

FORMATS = {".fasta": "fasta", ".fa": "fasta", ".fna": "fasta", ".npz": "npz", ".h5": "h5", ".hdf5": "h5",
           ".csv": "csv"}
FORMAT_VERSION = 1
#: how to mend a sample file d3 cannot read (ends every such error)
SAMPLE_FIX = "write it again with d3 sample, or give the sequences as FASTA"
#: FASTA header fields ``label:<name>=<value>`` (d3 design) are the labels; other fields are then other columns
LABEL_FIELD = "label:"
#: the FASTA header field and CSV column of a sample file's metadata (JSON), in its first record
META_FIELD = "d3:meta"
#: what the FASTA header field leaves unencoded: every printable character but whitespace and ``%``
_META_SAFE = string.punctuation.replace("%", "")


def _meta_text(metadata: dict) -> str:
    return json.dumps(metadata, separators=(",", ":"), default=str)


def _meta_of(text: str, path: Path) -> dict:
    try:
        metadata = json.loads(text)
    except ValueError as exc:
        raise D3UserError(f"{path}: its {META_FIELD} metadata is not JSON ({exc}); was the file edited? remove the "
                          f"{META_FIELD} field to read it as plain sequences") from None
    return metadata if isinstance(metadata, dict) else {}


def format_from_suffix(path: str | os.PathLike, formats: dict[str, str], kind: str) -> str:
    """``formats[suffix of path]`` (lower case), else a :class:`D3UserError` naming the ``kind`` of file and the
    extensions allowed (in the order of ``formats``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in formats:
        raise D3UserError(f"{path}: unknown {kind} file type {suffix or '(no extension)'!r}; use one of "
                          f"{', '.join(formats)}")
    return formats[suffix]


def format_of(path: str | os.PathLike) -> str:
    """``fasta``, ``npz``, ``h5`` or ``csv`` from the extension, else a :class:`D3UserError`."""
    return format_from_suffix(path, dict(sorted(FORMATS.items())), "sample")


@dataclass
class SampleSet:
    """Generated sequences and what they were conditioned on."""

    tokens: np.ndarray
    labels: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    rows: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    index: np.ndarray | None = None

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


# ------------------------------------------------------------------------------------------------------- writing
class SampleWriter(AtomicWriter):
    """Write a sample file chunk by chunk: ``with SampleWriter(path, names, metadata) as w: w.write(tokens, labels)``.

    The file is committed (renamed into place) when the ``with`` block ends without an exception; otherwise the
    temporary file is removed and an existing file of that name is left untouched. Sequence ids count from
    ``first_index`` (``d3_<first_index>``, ...).
    """

    def __init__(self, path: str | os.PathLike, label_names: Sequence[str] = (), metadata: dict | None = None, *,
                 overwrite: bool = False, first_index: int = 0):
        self.path = Path(path)
        self.format = format_of(self.path)
        if self.path.exists() and not overwrite:
            raise D3UserError(f"{self.path}: already exists; choose another -o or pass --force to replace it")
        if self.path.is_dir():
            raise D3UserError(f"{self.path}: is a directory; -o needs a file name such as samples.fasta")
        self.label_names = [str(n) for n in label_names]
        self.metadata = dict(metadata or {})
        self.split = self.metadata.get("reference_split")
        self.first_index = int(first_index)
        self.count = 0
        super().__init__(self.path)
        self._tmp = self.tmp
        self._text = None
        self._h5 = None
        self._npz = NpzColumns(self.path) if self.format == "npz" else None
        self._has_labels = True
        if self.format in ("fasta", "csv"):
            self._text = open(self._tmp, "w", newline="")
            if self.format == "csv":
                self._csv = csv.writer(self._text, lineterminator="\n")
                self._csv.writerow(["id", "sequence", *self.label_names, "ref", META_FIELD])

    @property
    def _stored_metadata(self) -> dict:
        return {"d3_samples_version": FORMAT_VERSION, **self.metadata}

    def _ref(self, row: int) -> str:
        return f"{self.split or 'row'}:{row}" if row >= 0 else ""

    def write(self, tokens: np.ndarray, labels: np.ndarray | None = None, rows: np.ndarray | None = None) -> None:
        """Append sequences ``tokens [b, L]`` with their ``labels [b, C]`` and reference rows ``[b]``."""
        tokens = np.asarray(tokens, dtype=np.uint8)
        b = tokens.shape[0]
        if labels is not None:
            labels = np.asarray(labels, dtype=np.float32).reshape(b, -1)
            if labels.shape[1] != len(self.label_names):
                raise ValueError(f"labels have {labels.shape[1]} columns for names {self.label_names}")
        rows = None if rows is None else np.asarray(rows, dtype=np.int64).reshape(b)
        first_record = self.count == 0
        if self.format == "fasta":
            for i, seq in enumerate(decode(tokens) if b else []):
                fields = [f"d3_{self.first_index + self.count + i}"]
                if labels is not None:
                    fields.append(format_labels(self.label_names, labels[i]))
                if rows is not None and rows[i] >= 0:
                    fields.append(f"ref={self._ref(int(rows[i]))}")
                if first_record and i == 0:
                    fields.append(f"{META_FIELD}={quote(_meta_text(self._stored_metadata), safe=_META_SAFE)}")
                self._text.write(">" + " ".join(fields) + "\n" + seq + "\n")
        elif self.format == "csv":
            for i, seq in enumerate(decode(tokens) if b else []):
                values = [format_value(v) for v in labels[i]] if labels is not None else [""] * len(self.label_names)
                ref = self._ref(int(rows[i])) if rows is not None else ""
                meta = _meta_text(self._stored_metadata) if first_record and i == 0 else ""
                self._csv.writerow([f"d3_{self.first_index + self.count + i}", seq, *values, ref, meta])
        elif self.format == "h5":
            self._write_h5(tokens, labels, rows)
        else:
            self._npz.append("tokens", tokens)
            self._npz.append("labels", labels if labels is not None
                             else np.full((b, len(self.label_names)), np.nan, np.float32))
            self._npz.append("rows", rows if rows is not None else np.full(b, -1, np.int64))
        self._has_labels = self._has_labels and labels is not None
        self.count += b

    def _write_h5(self, tokens, labels, rows) -> None:
        import h5py

        if self._h5 is None:
            self._h5 = h5py.File(self._tmp, "w", locking=False)
            length = tokens.shape[1]
            self._h5.create_dataset("tokens", shape=(0, length), maxshape=(None, length), dtype=np.uint8,
                                    chunks=(max(1, min(1024, (1 << 20) // max(length, 1))), length), compression="gzip")
            self._h5.create_dataset("labels", shape=(0, len(self.label_names)),
                                    maxshape=(None, len(self.label_names)), dtype=np.float32, chunks=True)
            self._h5.create_dataset("rows", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=True)
        b, n = tokens.shape[0], self.count
        for key, value in (("tokens", tokens),
                           ("labels", labels if labels is not None
                            else np.full((b, len(self.label_names)), np.nan, np.float32)),
                           ("rows", rows if rows is not None else np.full(b, -1, np.int64))):
            data = self._h5[key]
            data.resize(n + b, axis=0)
            data[n:n + b] = value

    def _finish(self) -> None:
        meta = json.dumps(self._stored_metadata, default=str)
        has_labels = self._has_labels and self.count > 0
        if self.format in ("fasta", "csv"):
            self._text.close()
        elif self.format == "h5":
            if self._h5 is None:
                self._write_h5(np.zeros((0, int(self.metadata.get("length", 0))), np.uint8), None, None)
            self._h5.attrs["label_names"] = json.dumps(self.label_names)
            self._h5.attrs["metadata"] = meta
            self._h5.attrs["has_labels"] = has_labels
            self._h5.close()
        else:
            if not self.count:
                self._npz.append("tokens", np.zeros((0, int(self.metadata.get("length", 0))), np.uint8))
                self._npz.append("rows", np.zeros(0, np.int64))
            if not has_labels:
                self._npz.drop("labels")
            self._npz.write_npz(self._tmp, {"label_names": np.asarray(self.label_names, dtype=str),
                                            "metadata": np.asarray(meta)})

    def _discard(self) -> None:
        for handle in (self._text, self._h5):
            try:
                if handle is not None:
                    handle.close()
            except Exception:
                pass
        if self._npz is not None:
            self._npz.discard()


def write_samples(path: str | os.PathLike, samples: SampleSet, *, overwrite: bool = False) -> Path:
    """Write a whole :class:`SampleSet` (format from the extension), atomically."""
    metadata = dict(samples.metadata)
    metadata.setdefault("length", samples.length)
    with SampleWriter(path, samples.label_names, metadata, overwrite=overwrite,
                      first_index=int(metadata.get("first_index", 0))) as writer:
        writer.write(samples.tokens, samples.labels, samples.rows)
    return Path(path)


# ------------------------------------------------------------------------------------------------------- reading
def read_samples(path: str | os.PathLike) -> SampleSet:
    """Read a sample file written by :func:`write_samples` (or any FASTA/CSV of equal-length ACGT sequences)."""
    path = Path(path)
    kind = format_of(path)
    if not path.is_file():
        raise D3UserError(f"{path}: no such sample file")
    reader = {"fasta": _read_fasta, "csv": _read_csv, "npz": _read_arrays, "h5": _read_arrays}[kind]
    samples = reader(path)
    if len(samples) == 0:
        raise D3UserError(f"{path}: holds no sequences")
    if samples.labels is not None:
        check_finite_labels(f"{path}: labels of sequence", samples.labels, samples.label_names, fix=SAMPLE_FIX,
                            missing=bool(samples.metadata.get("label_subsets")))  # NaN: a label unconditioned
    return samples


def _index_of_ids(ids: Sequence[str]) -> np.ndarray | None:
    """Global indices from ``d3_<i>`` ids (None unless every id has that form)."""
    numbers = [re.fullmatch(r"d3_(\d+)", str(i).strip()) for i in ids]
    return np.asarray([int(m.group(1)) for m in numbers], np.int64) if numbers and all(numbers) else None


def _index_of_metadata(metadata: dict, n: int) -> np.ndarray:
    return int(metadata.get("first_index", 0)) + np.arange(n, dtype=np.int64)


def _parse_ref(text: str) -> tuple[str | None, int]:
    split, _, row = text.rpartition(":")
    try:
        return (split or None), int(row)
    except ValueError:
        return None, -1


def _read_fasta(path: Path) -> SampleSet:
    records = read_fasta_records(path)
    headers, sequences, line_of = [r.header for r in records], [r.sequence for r in records], [r.line for r in records]
    names, values, refs, split, stored = None, [], [], None, {}
    for header in headers:
        fields = header.split()[1:]
        pairs = [f.split("=", 1) for f in fields if "=" in f]
        ref = next((v for k, v in pairs if k == "ref"), None)
        meta = next((v for k, v in pairs if k == META_FIELD), None)
        if meta is not None:
            stored = _meta_of(unquote(meta), path)
        pairs = [(k, v) for k, v in pairs if k != META_FIELD]
        tagged = [(k[len(LABEL_FIELD):], v) for k, v in pairs if k.startswith(LABEL_FIELD)]
        pairs = tagged or [(k, v) for k, v in pairs if k != "ref"]  # design files tag their labels among columns
        keys = [k for k, _ in pairs]
        if ref is not None:
            split, row = _parse_ref(ref)
            refs.append(row)
        else:
            refs.append(-1)
        if names is None:
            names = keys
        if keys != names:
            names = []
        try:
            values.append([float(v) for _, v in pairs])
        except ValueError:
            names = []
    tokens = encode(sequences, source=str(path), rows=line_of, unit="record", can_replace=False) if sequences else \
        np.zeros((0, 0), np.uint8)
    labels = np.asarray(values, dtype=np.float32) if names else None
    metadata = {**({"reference_split": split} if split else {}), **stored}
    index = _index_of_ids([h.split()[0] if h.split() else "" for h in headers])
    return SampleSet(tokens, labels, list(names or []), np.asarray(refs, dtype=np.int64), metadata, index)


def _read_csv(path: Path) -> SampleSet:
    rows = read_delimited(path)
    if not rows:
        return SampleSet(np.zeros((0, 0), np.uint8))
    header = [h.strip() for h in rows[0][1]]
    lower = [h.lower() for h in header]
    shown = " ".join(", ".join(header).split())  # a quoted cell may hold line breaks
    if "sequence" not in lower:
        raise D3UserError(f"{path}: no 'sequence' column (columns: {shown})")
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise D3UserError(f"{path} line {line}: {len(cells)} cell(s) but the header has {len(header)} "
                              f"({shown}); give every row one cell per column")
    seq_col = lower.index("sequence")
    ref_col = lower.index("ref") if "ref" in lower else None
    label_cols = [i for i, h in enumerate(lower) if h not in ("id", "sequence", "ref", META_FIELD)]
    body = [cells for _, cells in rows[1:]]
    meta_col = lower.index(META_FIELD) if META_FIELD in lower else None
    stored = _meta_of(body[0][meta_col], path) if meta_col is not None and body and body[0][meta_col].strip() else {}
    sequences = [r[seq_col] for r in body]
    tokens = encode(sequences, source=str(path), rows=[line for line, _ in rows[1:]], can_replace=False) \
        if sequences else np.zeros((0, 0), np.uint8)
    labels = None
    names = [header[i] for i in label_cols]
    if label_cols:
        try:
            labels = np.asarray([[float(r[i]) for i in label_cols] for r in body], dtype=np.float32)
        except ValueError:  # text columns (or no labels written): not labels
            labels, names = None, []
    split, refs = None, np.full(len(body), -1, np.int64)
    if ref_col is not None:
        for i, r in enumerate(body):
            if r[ref_col]:
                split, refs[i] = _parse_ref(r[ref_col])
    metadata = {**({"reference_split": split} if split else {}), **stored}
    index = _index_of_ids([r[lower.index("id")] for r in body]) if "id" in lower else None
    return SampleSet(tokens, labels, names if labels is not None else [], refs, metadata, index)


def _read_arrays(path: Path) -> SampleSet:
    """An .npz or .h5 sample file: arrays ``tokens``, ``labels``, ``rows``; label names and metadata as .npz arrays
    or HDF5 attributes (JSON)."""
    with open_arrays(path, fix=SAMPLE_FIX) as f:
        if "tokens" not in f:
            raise D3UserError(f"{path}: no 'tokens' array (keys: {', '.join(f.keys) or 'none'}); not a d3 sample "
                              "file (dataset files are read with --data; d3 sample files hold token indices under "
                              "'tokens')")
        tokens = token_array(path, "tokens", f.array("tokens"), fix=SAMPLE_FIX)
        if f.kind == "npz":
            names = [str(n) for n in f.array("label_names").reshape(-1)] if "label_names" in f else []
            has_labels = "labels" in f
            metadata = _json(path, "metadata", str(f.array("metadata")) if "metadata" in f else "{}", dict)
        else:
            names = _json(path, "label_names", f.attribute("label_names", "[]"), list)
            has_labels = "labels" in f and bool(f.attribute("has_labels", True))
            metadata = _json(path, "metadata", f.attribute("metadata", "{}"), dict)
        labels = label_array(path, "labels", f.array("labels"), len(tokens), names, fix=SAMPLE_FIX) \
            if has_labels else None
        rows = row_array(path, "rows", f.array("rows"), len(tokens), fix=SAMPLE_FIX) if "rows" in f else None
    return SampleSet(tokens, labels, [str(n) for n in names] if labels is not None else [], rows, metadata,
                     _index_of_metadata(metadata, len(tokens)))


def _json(path: Path, key: str, text, kind: type):
    """A JSON value of type ``kind`` stored under ``key`` (text), else a :class:`D3UserError`."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise D3UserError(f"{path}: {key!r} is not valid JSON ({one_line(exc, with_type=False)}); "
                          f"{SAMPLE_FIX}") from None
    if not isinstance(value, kind):
        raise D3UserError(f"{path}: {key!r} is a JSON {type(value).__name__}, not a {kind.__name__}; {SAMPLE_FIX}")
    return value
