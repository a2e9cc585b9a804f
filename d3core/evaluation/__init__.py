"""Evaluation of generated sequences: metrics, oracles, the SP-MSE training callback, reports with plots.

- :mod:`~d3core.evaluation.metrics`        Pearson/Spearman, KS, k-mer JS distance, AUROC, GC, nearest identity;
- :mod:`~d3core.evaluation.oracle`           the one oracle loader and the :class:`Oracle` interface (predict, embed);
- :mod:`~d3core.evaluation.original_oracles` the original D3 oracle checkpoints (PL_DeepSTARR, PL_mpra);
- :mod:`~d3core.evaluation.oracle_training`  ``d3 oracle train`` (Lightning, early stopping);
- :mod:`~d3core.evaluation.discriminator`  real-vs-generated classifier AUROC;
- :mod:`~d3core.evaluation.report`         :func:`evaluate_samples` -> ``metrics.json``, ``report.md``, PNGs;
- :mod:`~d3core.evaluation.plots`          the PNG plots (matplotlib, Agg);
- :mod:`~d3core.evaluation.sp_mse`         the ``sp_mse`` callback.

Definitions, and which direction is better: ``docs/evaluation.md``.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "evaluate_samples": "d3core.evaluation.report",
    "train_oracle": "d3core.evaluation.oracle_training",
    "load_oracle": "d3core.evaluation.oracle",
    "default_oracle_path": "d3core.evaluation.oracle",
    "Oracle": "d3core.evaluation.oracle",
    "SPMSECallback": "d3core.evaluation.sp_mse",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
