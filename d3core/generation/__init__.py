"""Sampling API: load a checkpoint, parse conditioning labels, draw sequences in seeded chunks, write sample files.

- :mod:`~d3core.generation.api`         :class:`SamplingModel` (checkpoint -> sequences or a file);
- :mod:`~d3core.generation.sampler`     the chunked predictor loop (:func:`iter_chunks`, :func:`generate`);
- :mod:`~d3core.generation.randomness`  counter-based noise: sequence i depends only on (seed, i);
- :mod:`~d3core.generation.labels`      ``--labels`` parsing (name=value, positional, CSV/TSV tables);
- :mod:`~d3core.generation.io`          FASTA / NPZ / HDF5 / CSV sample files (:func:`write_samples`,
  :func:`read_samples`, :class:`SampleSet`).

Names are imported lazily (PEP 562), so ``import d3core.generation`` does not import torch.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "SamplingModel": "d3core.generation.api",
    "generate": "d3core.generation.sampler",
    "iter_chunks": "d3core.generation.sampler",
    "SampleSet": "d3core.generation.io",
    "SampleWriter": "d3core.generation.io",
    "read_samples": "d3core.generation.io",
    "write_samples": "d3core.generation.io",
    "label_rows": "d3core.generation.labels",
    "parse_label_values": "d3core.generation.labels",
    "read_label_table": "d3core.generation.labels",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
