"""Evaluation of generated sequences: metrics, oracles, the SP-MSE training callback, reports with plots.

- :mod:`~d3core.evaluation.metrics`        Pearson/Spearman, KS, k-mer JS distance, AUROC, GC, nearest identity;
- :mod:`~d3core.evaluation.oracle`         oracle training (Lightning, early stopping), oracle files, prediction;
- :mod:`~d3core.evaluation.discriminator`  real-vs-generated classifier AUROC;
- :mod:`~d3core.evaluation.report`         :func:`evaluate_samples` -> ``metrics.json``, ``report.md``, PNGs;
- :mod:`~d3core.evaluation.plots`          the PNG plots (matplotlib, Agg);
- :mod:`~d3core.evaluation.sp_mse`         the ``sp_mse`` callback.

Definitions, and which direction is better: ``docs/evaluation.md``.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "evaluate_samples": "d3core.evaluation.report",
    "train_oracle": "d3core.evaluation.oracle",
    "load_oracle": "d3core.evaluation.oracle",
    "default_oracle_path": "d3core.evaluation.oracle",
    "Oracle": "d3core.evaluation.oracle",
    "SPMSECallback": "d3core.evaluation.sp_mse",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
