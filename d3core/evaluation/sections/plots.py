"""The PNG plots of the report: k-mer spectra, GC content, nearest-training identity, predicted activity, attribution
logos (:mod:`d3core.evaluation.plots`), from what the earlier sections left in ``run.extra``."""
from __future__ import annotations

import numpy as np

from d3core.evaluation.sections.base import Run, Section

#: attribution logos drawn in the report: this many designs, then one real sequence
LOGOS = 3


def compute(run: Run) -> None:
    """``run.plots``: plot key -> PNG file name in the output folder. Without matplotlib: a note."""
    from d3core.evaluation import plots as P

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        run.notes.append("plots skipped: matplotlib is not installed (pip install matplotlib)")
        return
    out, made = run.out_dir, run.plots
    spectra, js = run.extra.get("spectra"), run.extra.get("js")
    if spectra:
        made["kmer_spectrum"] = P.kmer_spectra(out / "kmer_spectrum.png", spectra, js).name
    gc_gen, gc_ref = run.extra["gc"]
    made["gc_content"] = P.histograms(out / "gc_content.png", {f"{run.reference} (real)": gc_ref,
                                                               "generated": gc_gen},
                                      "GC fraction", "GC content per sequence").name
    nn_gen, nn_ref = run.extra["nn"]
    series = {"generated": nn_gen}
    if nn_ref is not None:
        series[f"{run.reference} (real)"] = nn_ref
    made["nn_identity"] = P.histograms(out / "nn_identity.png", series, "identity to nearest training sequence",
                                       "Memorisation check").name
    predicted = run.extra.get("predicted")
    if predicted is not None:
        names = run.oracle.label_names
        made["activity_distribution"] = P.activity_distributions(out / "activity_distribution.png", predicted,
                                                                 run.extra["ref_predicted"], names,
                                                                 run.reference).name
        if run.extra.get("requested") is not None:
            made["predicted_vs_requested"] = P.predicted_vs_requested(out / "predicted_vs_requested.png",
                                                                      run.extra["requested"], predicted, names).name
    maps = run.extra.get("maps")
    if maps is not None and len(maps["generated"]):
        _logos(run, maps)


def _logos(run: Run, maps: dict[str, np.ndarray]) -> None:
    """``attribution_logos.png``: the last :data:`LOGOS` designs' maps and one real sequence's."""
    from d3core.evaluation import plots as P
    from d3core.evaluation.extras import MissingExtraError

    n = min(LOGOS, len(maps["generated"]))
    rows = run.extra["attribution_rows"]
    tokens = np.concatenate([run.extra["attribution_tokens"]["generated"][-n:],
                             run.extra["attribution_tokens"]["reference"][-1:]])
    attributions = np.concatenate([maps["generated"][-n:], maps["reference"][-1:]])
    titles = [f"design d3_{rows[i]}" for i in range(len(rows) - n, len(rows))] + ["real reference sequence"]
    try:
        run.plots["attribution_logos"] = P.attribution_logos(run.out_dir / "attribution_logos.png", tokens,
                                                             attributions, titles).name
    except MissingExtraError as exc:
        run.notes.append(f"attribution logos skipped: {exc}")


SECTION = Section("plots", compute, applies=lambda run: run.draw_plots)
