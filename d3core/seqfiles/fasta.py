"""FASTA sequence files (``.fasta``, ``.fa``, ``.fna``): ``>d3_<i> objective=1.93 dev=4 hk=1.5 ref=test:17``.

The header holds the labels, the extra columns and the reference row as ``name=value`` fields (values
percent-encoded where they hold whitespace or ``%``); the first record's header ends with ``d3:meta=<JSON>``. Any
FASTA of equal-length ACGT sequences reads (numeric fields become labels).
"""
from __future__ import annotations

import string
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from d3core.data.readers import read_fasta_records
from d3core.seqfiles.records import META_FIELD, SequenceSet, TextRecord, from_text, json_value, metadata_text
from d3core.seqfiles.text_writer import TextRows

#: what a header field leaves unencoded: every printable character but whitespace and ``%``
_SAFE = string.punctuation.replace("%", "")


class Writer:
    """Writes records to ``tmp`` as they come (see :mod:`d3core.seqfiles.table` for the protocol)."""

    def __init__(self, tmp: Path, label_names, column_names, stored: dict, length: int):
        self._rows = TextRows(label_names, column_names, stored)
        self._columns = set(column_names)
        self._meta = stored
        self._handle = open(tmp, "w", newline="")
        self._first = True

    def write(self, index, tokens, labels, rows, columns) -> None:
        for sequence_id, sequence, cells in self._rows.rows(index, tokens, labels, rows, columns):
            kept = [(n, v) for n, v in cells if v != "" or n in self._columns]  # an empty label or ref: none
            fields = [sequence_id, *(f"{n}={quote(v, safe=_SAFE)}" for n, v in kept)]
            if self._first:
                fields.append(f"{META_FIELD}={quote(metadata_text(self._meta), safe=_SAFE)}")
                self._first = False
            self._handle.write(">" + " ".join(fields) + "\n" + sequence + "\n")

    def finish(self) -> None:
        self._handle.close()

    def discard(self) -> None:
        self._handle.close()


def read(path: Path) -> SequenceSet:
    """Every record of a FASTA file (``name=value`` header fields: labels, extra columns, ``ref``)."""
    records, stored = [], {}
    for record in read_fasta_records(path):
        fields = dict(word.split("=", 1) for word in record.header.split()[1:] if "=" in word)
        fields = {name: unquote(value) for name, value in fields.items()}
        if META_FIELD in fields:
            stored = json_value(path, META_FIELD, fields.pop(META_FIELD), dict)
        records.append(TextRecord(record.id, record.sequence, record.line, fields))
    return from_text(path, records, stored, unit="record") if records else SequenceSet(np.zeros((0, 0), np.uint8))
