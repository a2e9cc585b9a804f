"""The row-by-row part that the FASTA, CSV and TSV writers share: each sequence's id, text and fields."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from d3core.data.encoding import decode
from d3core.seqfiles.records import column_text, flanks_of, format_value, ref_text, sequence_id


class TextRows:
    """Turns chunks into rows ``(id, sequence, [(name, cell), ...])``: extra columns (a design's objective first),
    labels, then ``ref``."""

    def __init__(self, label_names: Sequence[str], column_names: Sequence[str], metadata: dict):
        self.label_names, self.column_names = list(label_names), list(column_names)
        self.split = metadata.get("reference_split")
        self.left, self.right = flanks_of(metadata)

    def rows(self, index: np.ndarray, tokens: np.ndarray, labels: np.ndarray | None, rows: np.ndarray | None,
             columns: dict[str, np.ndarray]) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
        """One row per sequence of ``tokens [b, L]`` (``index [b]``, ``labels [b, C]``, ``rows [b]``, ``columns``
        name -> ``[b]``); a missing label is the empty cell."""
        for i, sequence in enumerate(decode(tokens) if len(tokens) else []):
            cells = [(n, column_text(columns[n][i])) for n in self.column_names]
            cells += [(n, format_value(labels[i, j]) if labels is not None else "")
                      for j, n in enumerate(self.label_names)]
            cells.append(("ref", ref_text(self.split, int(rows[i])) if rows is not None else ""))
            yield sequence_id(int(index[i])), f"{self.left}{sequence}{self.right}", cells
