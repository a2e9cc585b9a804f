"""Sequence data: encoding, dataset files (HDF5), lazy reading, validation, import, synthesis, download.

Modules (each one job):

- :mod:`~d3core.data.encoding`    ACGT <-> tokens <-> one-hot, the ``N`` policy;
- :mod:`~d3core.data.layout`      HDF5 layouts (key names, channel order) and the atomic writer;
- :mod:`~d3core.data.h5dataset`   :class:`H5SequenceDataset`, the lazily read torch dataset of one split;
- :mod:`~d3core.data.sampler`     :class:`EpochSeededBatchSampler`, the (seed, epoch) training order;
- :mod:`~d3core.data.validation`  file checks with clear errors, summaries for ``d3 data info``;
- :mod:`~d3core.data.importing`   FASTA + activity / CSV / TSV import, joins, adapters, seeded splits;
- :mod:`~d3core.data.synth`       synthetic data from planted motifs;
- :mod:`~d3core.data.fetch`       download with pooch and SHA-256 checks;
- :mod:`~d3core.data.base`        :class:`SequenceDataset`, the base class of dataset plugins.

Names are imported lazily (PEP 562): ``import d3core.data`` stays light; torch is imported only by the reader.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "SequenceDataset": "d3core.data.base",
    "data_dir": "d3core.data.base",
    "H5Layout": "d3core.data.layout",
    "H5Writer": "d3core.data.layout",
    "SPLITS": "d3core.data.layout",
    "H5SequenceDataset": "d3core.data.h5dataset",
    "EpochSeededBatchSampler": "d3core.data.sampler",
    "FileSummary": "d3core.data.validation",
    "validate_file": "d3core.data.validation",
    "Motif": "d3core.data.synth",
    "encode": "d3core.data.encoding",
    "decode": "d3core.data.encoding",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
