"""Oracle-guided design (spec §5): steer the one sampler toward an objective of an oracle's predictions.

- :mod:`~d3core.design.objective`: the ``--objective`` language (label names, numbers, + - * / ^, min/max/abs);
- :mod:`~d3core.design.values`: the value of a partly denoised sequence (the oracle on its denoised estimate);
- :mod:`~d3core.design.methods`: the table of design methods (``--method``);
- :mod:`~d3core.design.svdd`, :mod:`~d3core.design.smc`: the two guided transitions of the sampler loop;
- :mod:`~d3core.design.evolve`: population search with the model as mutation kernel (``--method evolve``);
- :mod:`~d3core.design.driver`: chunked, seeded design from a :class:`~d3core.generation.SamplingModel`;
- :mod:`~d3core.design.session`: a design run's defaults and preconditions, and its report (baseline, gain);
- :mod:`~d3core.design.output`: design files (every format of :mod:`d3core.seqfiles`).

The names below resolve on first access (:mod:`d3core.lazy`): importing the package (the CLI does, for the method
table) loads neither numpy nor torch.
"""
from d3core.lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, {
    "DEFAULT_DESIGN_BATCH": "d3core.design.driver", "DesignChunk": "d3core.design.driver",
    "DesignSet": "d3core.design.driver", "DesignSettings": "d3core.design.driver", "design": "d3core.design.driver",
    "iter_designs": "d3core.design.driver", "METHODS": "d3core.design.methods",
    "Objective": "d3core.design.objective", "parse_objective": "d3core.design.objective",
    "DesignReport": "d3core.design.session", "design_report": "d3core.design.session",
    "read_designs": "d3core.design.output", "write_designs": "d3core.design.output"})
