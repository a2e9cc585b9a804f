"""Evaluation of generated sequences: the oracles, every metric of the D3 paper (spec §9) and the peers' checks, reports.

- :mod:`~d3core.evaluation.oracle`           the one oracle resolver (file, registered or published name) and loader;
- :mod:`~d3core.evaluation.original_oracles` the original D3 oracle checkpoints (PL_DeepSTARR, PL_mpra);
- :mod:`~d3core.evaluation.oracle_networks`  the oracle networks datasets declare, found by name; state-dict fit;
- :mod:`~d3core.evaluation.oracle_interface` the :class:`Oracle` interface (predict, embed) and its one-hot tensor;
- :mod:`~d3core.evaluation.oracle_training`  ``d3 oracle train`` (Lightning, early stopping);
- :mod:`~d3core.evaluation.prediction`       ``d3 oracle predict``: a sequence file -> a predictions table;
- :mod:`~d3core.evaluation.metrics`          set statistics (scipy, scikit-learn): k-mer KL/JS, Fréchet, identity;
- :mod:`~d3core.evaluation.motifs`           FIMO (memelite) against JASPAR (pyjaspar): enrichment, co-occurrence;
- :mod:`~d3core.evaluation.attribution`      GradientShap (captum), attribution consistency, mechanistic diversity;
- :mod:`~d3core.evaluation.discriminator`    real-vs-generated classifier AUROC;
- :mod:`~d3core.evaluation.protocols`        the ``quick`` and ``paper`` settings, the published figures;
- :mod:`~d3core.evaluation.report`           :func:`evaluate_samples` -> ``metrics.json``, ``report.md``, PNGs;
- :mod:`~d3core.evaluation.sections`         its sections, one module each, in one list (``SECTIONS``);
- :mod:`~d3core.evaluation.report_markdown`  ``report.md`` from the ``metrics.json`` content;
- :mod:`~d3core.evaluation.activity_thresholds`  ``--activity-threshold LABEL=VALUE``;
- :mod:`~d3core.evaluation.plots`            the PNG plots (matplotlib, Agg; logomaker logos);
- :mod:`~d3core.evaluation.extras`           the optional ``motifs`` extra (one-line error naming it);
- :mod:`~d3core.evaluation.sp_mse`           the ``sp_mse`` callback.

Definitions, units, which direction is better and the paper's values: ``docs/evaluation.md``.
"""
from d3core.lazy import lazy_attributes

_LAZY = {
    "evaluate_samples": "d3core.evaluation.report",
    "train_oracle": "d3core.evaluation.oracle_training",
    "load_oracle": "d3core.evaluation.oracle",
    "default_oracle_path": "d3core.evaluation.oracle",
    "Oracle": "d3core.evaluation.oracle_interface",
    "SPMSECallback": "d3core.evaluation.sp_mse",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)
