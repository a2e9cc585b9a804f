"""The one table of sequence-file formats: file suffix -> format, the module that reads and writes it.

Every command that reads or writes sequences (``d3 sample``, ``d3 design``, ``d3 score``, ``d3 evaluate``,
``d3 merge``, ``d3 oracle predict``) finds the format here; the choices a CLI option names come from :data:`FORMATS`.
Pure data (no numpy), so the CLI can import it while building its help.
"""
from __future__ import annotations

import os
from pathlib import Path

from d3core.errors import D3UserError

__all__ = ["FORMATS", "IMPLEMENTATIONS", "SUFFIXES", "format_of", "suffix_list"]

#: file suffix (lower case) -> format; each format is the module ``d3core.seqfiles.<format>``
FORMATS = {".fasta": "fasta", ".fa": "fasta", ".fna": "fasta", ".npz": "npz", ".h5": "h5", ".hdf5": "h5",
           ".csv": "csv", ".tsv": "tsv"}
#: format -> ``module:Writer`` of ``d3core.seqfiles``: the module's ``read`` reads it, its ``Writer`` writes it
IMPLEMENTATIONS = {"fasta": "fasta:Writer", "npz": "npz:Writer", "h5": "h5:Writer", "csv": "delimited:Writer",
                   "tsv": "delimited:TabWriter"}
#: every suffix d3 reads and writes sequences in, in the order help texts list them
SUFFIXES = tuple(FORMATS)


def suffix_list(conjunction: str = "or") -> str:
    """``.fasta, .fa, ..., .csv or .tsv``: the suffixes for a help text or an error."""
    return f"{', '.join(SUFFIXES[:-1])} {conjunction} {SUFFIXES[-1]}"


def format_of(path: str | os.PathLike, kind: str = "sequence") -> str:
    """The format of ``path`` from its suffix (``fasta``, ``npz``, ``h5``, ``csv``, ``tsv``), else a one-line
    :class:`D3UserError` naming the ``kind`` of file and the suffixes allowed."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise D3UserError(f"{path}: unknown {kind} file type {suffix or '(no extension)'!r}; use {suffix_list()}")
    return FORMATS[suffix]
