"""Oracle-guided design (spec §5): steer the one sampler toward an objective of an oracle's predictions.

- :mod:`~d3core.design.objective`: the ``--objective`` language (label names, numbers, + - * / ^, min/max/abs);
- :mod:`~d3core.design.values`: the value of a partly denoised sequence (the oracle on its denoised estimate);
- :mod:`~d3core.design.svdd`, :mod:`~d3core.design.smc`: the two guided transitions of the sampler loop;
- :mod:`~d3core.design.evolve`: population search with the model as mutation kernel (``--method evolve``);
- :mod:`~d3core.design.driver`: chunked, seeded design from a :class:`~d3core.generation.SamplingModel`;
- :mod:`~d3core.design.output`: design files (every format of :mod:`d3core.seqfiles`).
"""
from d3core.design.driver import (DEFAULT_DESIGN_BATCH, METHODS, DesignChunk, DesignSet, DesignSettings, design,
                                  iter_designs)
from d3core.design.objective import Objective, parse_objective
from d3core.design.output import read_designs, write_designs

__all__ = ["DEFAULT_DESIGN_BATCH", "METHODS", "DesignChunk", "DesignSet", "DesignSettings", "Objective", "design",
           "iter_designs", "parse_objective", "read_designs", "write_designs"]
