"""Sequence files: the one table of formats d3 reads and writes sequences in (samples, designs, shards).

==========  =====================================================================================================
``.fasta``  ``>d3_<i> objective=1.93 oracle:dev=2.1 dev=4 hk=1.5 ref=test:17`` then the sequence (``.fa``,
            ``.fna`` too); the first header ends with ``d3:meta=<JSON>`` (:mod:`~d3core.seqfiles.fasta`).
``.npz``    arrays ``tokens`` uint8 [N, L], ``index`` int64 [N], ``labels`` float32 [N, C], ``rows`` int64 [N], one
            array per extra column, ``label_names``, ``column_names``, ``metadata`` (JSON) (:mod:`~.npz`).
``.h5``     the same as datasets; names and metadata as attributes (``.hdf5`` too) (:mod:`~.h5`).
``.csv``    columns ``id, sequence, <extra columns>, <labels>, ref, d3:meta``; the metadata in the first row
            (:mod:`~d3core.seqfiles.delimited`).
``.tsv``    the same, tab-separated.
==========  =====================================================================================================

- :mod:`~d3core.seqfiles.table`: suffix -> format (the choices every CLI option lists);
- :mod:`~d3core.seqfiles.records`: :class:`SequenceSet` (tokens, labels, extra columns, metadata, ids ``d3_<i>``);
- :mod:`~d3core.seqfiles.files`: :class:`SequenceWriter` (streaming, atomic), :func:`write_sequence_file`,
  :func:`read_sequence_file`.

Every format holds the same things, so a file of any format reads back with its labels, its extra columns kept
apart from them, its metadata (which ``d3 merge`` compares across shards) and its ids. A new format is a module
here with a ``Writer`` and a ``read`` and a row of :data:`~d3core.seqfiles.table.FORMATS`.
"""
from d3core.lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, {
    "SequenceSet": "d3core.seqfiles.records",
    "SequenceWriter": "d3core.seqfiles.files",
    "read_sequence_file": "d3core.seqfiles.files",
    "write_sequence_file": "d3core.seqfiles.files",
    "FORMATS": "d3core.seqfiles.table",
    "format_of": "d3core.seqfiles.table",
})
