"""Likelihood of given sequences (steering spec §4): the SEDD bound on ``-log p(x | labels)`` with error bars.

- :mod:`~d3core.scoring.estimator`  the Monte Carlo estimate at the network level (stratified t, shared counter-based
  draws, the prior term);
- :mod:`~d3core.scoring.stats`      standard errors of stratified estimates;
- :mod:`~d3core.scoring.scores`        :func:`score_sequences` on a :class:`~d3core.generation.sampling_model.SamplingModel`,
  :class:`LikelihoodScores`;
- :mod:`~d3core.scoring.mutations`  every single-base substitution of one sequence (:func:`score_mutations`);
- :mod:`~d3core.scoring.inputs`, :mod:`~d3core.scoring.outputs`  what ``d3 score`` reads and writes;
- :mod:`~d3core.scoring.likelihood_comparison`  the likelihood section of ``d3 evaluate --checkpoint``.

Names are imported lazily (PEP 562), so ``import d3core.scoring`` does not import torch.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "score_sequences": "d3core.scoring.scores",
    "LikelihoodScores": "d3core.scoring.scores",
    "score_mutations": "d3core.scoring.mutations",
    "MutationScan": "d3core.scoring.mutations",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
