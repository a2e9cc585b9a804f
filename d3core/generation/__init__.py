"""Sampling API: load a checkpoint, parse conditioning labels, draw sequences in seeded chunks, write sample files.

- :mod:`~d3core.generation.sampling_model`         :class:`SamplingModel` (checkpoint -> sequences or a file), :class:`SamplingOptions`;
- :mod:`~d3core.generation.sampler`     the chunked driver of the one predictor loop (:func:`iter_chunks`, :func:`generate`),
  counter-based noise (sequence i depends only on (seed, i)), guidance, templates, precision;
- :mod:`~d3core.generation.templates`   ``--template`` / ``--fix`` / ``--start-from`` parsing (:class:`Template`);
- :mod:`~d3core.generation.shards`      ``--shard K/N``, torchrun/srun ranks, ``d3 merge`` (:func:`merge_shards`);
- :mod:`~d3core.generation.labels`      ``--labels`` parsing (name=value, positional, CSV/TSV tables);
- sample files (:func:`write_samples`, :func:`read_samples`, :class:`SampleSet`, :class:`SampleWriter`) are
  sequence files of :mod:`d3core.seqfiles` (FASTA / NPZ / HDF5 / CSV / TSV);
- :mod:`~d3core.generation.allocator`   ``d3 sample``'s malloc setting for CPU speed.

Names are imported lazily (PEP 562), so ``import d3core.generation`` does not import torch.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "SamplingModel": "d3core.generation.sampling_model",
    "SamplingOptions": "d3core.generation.sampling_model",
    "Template": "d3core.generation.templates",
    "merge_shards": "d3core.generation.shards",
    "generate": "d3core.generation.sampler",
    "iter_chunks": "d3core.generation.sampler",
    "SampleSet": "d3core.seqfiles.records:SequenceSet",
    "SampleWriter": "d3core.seqfiles.files:SequenceWriter",
    "read_samples": "d3core.seqfiles.files:read_sequence_file",
    "write_samples": "d3core.seqfiles.files:write_sequence_file",
    "label_rows": "d3core.generation.labels",
    "parse_label_values": "d3core.generation.labels",
    "read_label_table": "d3core.generation.labels",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
