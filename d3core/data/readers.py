"""Text inputs: FASTA records and delimited (CSV/TSV) rows, plain or gzip-compressed, with their line numbers.

The one place d3 parses these formats: ``d3 data import`` (:mod:`d3core.data.importing`), sample files
(:mod:`d3core.seqfiles`) and label tables (:mod:`d3core.generation.labels`) build on it. Errors name the file
and line.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from d3core.errors import D3UserError

__all__ = ["FastaRecord", "numbered_lines", "open_text", "read_delimited", "read_fasta_records", "sniff_delimiter"]


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: the header without ``>``, the sequence (lines joined) and the header's line number."""

    header: str
    sequence: str
    line: int

    @property
    def id(self) -> str:
        """The first word of the header ('' for a bare ``>``)."""
        words = self.header.split()
        return words[0] if words else ""


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """``path`` opened as UTF-8 text (``.gz`` decompressed), universal newlines left to the csv module."""
    path = Path(path)
    if not path.is_file():
        raise D3UserError(f"{path}: file not found")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def numbered_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text file (:func:`open_text`); text that is not UTF-8 and a damaged ``.gz`` are
    one-line :class:`D3UserError` s naming the file."""
    try:
        with open_text(path) as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise D3UserError(f"{path}: not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at offset "
                          f"{exc.start} of a block); save it as UTF-8 (plain ASCII is fine)") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise D3UserError(f"{path}: a damaged or truncated gzip file ({' '.join(str(exc).split()) or 'ends early'})"
                          "; copy or compress it again") from None
    except OSError as exc:
        raise D3UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_fasta_records(path: str | os.PathLike) -> list[FastaRecord]:
    """Every record of a FASTA file (multi-line sequences joined; blank lines and ``;`` comment lines skipped).

    Sequence lines before the first header are a :class:`D3UserError` naming the line.
    """
    path = Path(path)
    headers: list[tuple[str, int]] = []
    parts: list[list[str]] = []
    for number, raw in numbered_lines(path):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            headers.append((line[1:].strip(), number))
            parts.append([])
        elif not headers:
            raise D3UserError(f"{path} line {number}: sequence data before the first '>' header; is it FASTA?")
        else:
            parts[-1].append(line)
    return [FastaRecord(header, "".join(seq), number) for (header, number), seq in zip(headers, parts)]


def sniff_delimiter(first_line: str) -> str:
    """The delimiter of a table from its first line: a tab if it holds one, else a comma."""
    return "\t" if "\t" in first_line else ","


def read_delimited(path: str | os.PathLike, *, comment: str | None = None) -> list[tuple[int, list[str]]]:
    """``(line number, stripped cells)`` of every non-blank row of a CSV/TSV file: the delimiter comes from the first
    row (:func:`sniff_delimiter`), quoted fields are read as the csv module reads them (a quoted field may span
    lines), and lines starting with ``comment`` are skipped."""
    kept = [(number, line) for number, line in numbered_lines(path)
            if not (comment and line.lstrip().startswith(comment))]
    first = next((line for _, line in kept if line.strip()), None)
    if first is None:
        return []
    reader = csv.reader((line for _, line in kept), delimiter=sniff_delimiter(first))
    rows, start = [], 0
    for row in reader:
        number, start = kept[start][0], reader.line_num
        if any(cell.strip() for cell in row):
            rows.append((number, [cell.strip() for cell in row]))
    return rows
