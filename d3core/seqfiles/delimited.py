"""CSV and TSV sequence files: columns ``id, sequence, <extra columns...>, <labels...>, ref, d3:meta``.

The metadata (JSON) is in the first row's ``d3:meta`` cell. Rows are read by
:func:`d3core.data.readers.read_delimited` (the delimiter from the first line: a tab makes it TSV); every row must
have a cell per column. Any table with a ``sequence`` column of equal-length ACGT sequences reads (numeric columns
become labels).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from d3core.data.readers import read_delimited
from d3core.errors import D3UserError
from d3core.seqfiles.records import META_FIELD, SequenceSet, TextRecord, from_text, json_value, metadata_text
from d3core.seqfiles.text_writer import TextRows


class Writer:
    """Writes rows to ``tmp`` as they come, separated by ``delimiter`` (see :mod:`d3core.seqfiles.table`)."""

    delimiter = ","

    def __init__(self, tmp: Path, label_names, column_names, stored: dict, length: int):
        self._rows = TextRows(label_names, column_names, stored)
        self._meta = stored
        self._handle = open(tmp, "w", newline="")
        self._csv = csv.writer(self._handle, delimiter=self.delimiter, lineterminator="\n")
        self._csv.writerow(["id", "sequence", *column_names, *label_names, "ref", META_FIELD])
        self._first = True

    def write(self, index, tokens, labels, rows, columns) -> None:
        for sequence_id, sequence, cells in self._rows.rows(index, tokens, labels, rows, columns):
            meta = metadata_text(self._meta) if self._first else ""
            self._csv.writerow([sequence_id, sequence, *(v for _, v in cells), meta])
            self._first = False

    def finish(self) -> None:
        self._handle.close()

    def discard(self) -> None:
        self._handle.close()


class TabWriter(Writer):
    delimiter = "\t"


def read(path: Path) -> SequenceSet:
    """Every row of a CSV or TSV file with a ``sequence`` column."""
    rows = read_delimited(path)
    if not rows:
        return SequenceSet(np.zeros((0, 0), np.uint8))
    header = [h.strip() for h in rows[0][1]]
    lower = [h.lower() for h in header]
    shown = " ".join(", ".join(header).split())  # a quoted cell may hold line breaks
    if "sequence" not in lower:
        raise D3UserError(f"{path} line {rows[0][0]}: no 'sequence' column (columns: {shown}); name the column of "
                          "sequences 'sequence'")
    records, stored = [], {}
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise D3UserError(f"{path} line {line}: {len(cells)} cell(s) but the header has {len(header)} "
                              f"({shown}); give every row one cell per column")
        fields = {name if name.lower() not in ("id", "sequence", "ref") else name.lower(): cell
                  for name, cell in zip(header, cells)}
        meta = fields.pop(META_FIELD, "")
        if meta and not records:
            stored = json_value(path, META_FIELD, meta, dict)
        records.append(TextRecord(fields.pop("id", ""), fields.pop("sequence"), line, fields))
    return from_text(path, records, stored, unit="line") if records else SequenceSet(np.zeros((0, 0), np.uint8))
