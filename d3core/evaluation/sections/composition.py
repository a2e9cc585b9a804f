"""GC content and the paper's k-mer spectrum shift (KL, JS distance; spec §9.5)."""
from __future__ import annotations

import numpy as np

from d3core.evaluation import metrics as M
from d3core.evaluation.sections.base import SE_SUFFIX, Run, Section


def compute(run: Run) -> None:
    """``gc_*``, ``kmer_kl_k*``, ``kmer_js_k*`` (and their subsampling errors); ``extra``: ``spectra``, ``js``,
    ``gc`` for the plots."""
    gc_gen, gc_ref = M.gc_content(run.gen), M.gc_content(run.ref_tokens)
    run.metrics.update(gc_generated=float(gc_gen.mean()), gc_reference=float(gc_ref.mean()),
                       gc_abs_diff=float(abs(gc_gen.mean() - gc_ref.mean())), gc_ks=M.ks_statistic(gc_gen, gc_ref))
    ks = run.protocol.kmer_ks
    reference = run.cache.get("kmer_spectra", {"ks": list(ks)},
                              lambda: {f"k{k}": M.kmer_spectrum(run.ref_tokens, k) for k in ks})
    spectra, js = {}, {}
    for k in ks:
        spectra[k] = (reference[f"k{k}"], M.kmer_spectrum(run.gen, k))
        run.metrics[f"kmer_kl_k{k}"] = M.kmer_kl(*spectra[k])
        js[k] = run.metrics[f"kmer_js_k{k}"] = M.kmer_js(*spectra[k])
    run.extra.update(spectra=spectra, js=js, gc=(gc_gen, gc_ref))
    run.subsampling_se("gc_ks", lambda rows: M.ks_statistic(gc_gen, gc_ref[rows]))
    if run.subsampled:
        _kmer_subsampling_se(run, spectra)
    run.say(f"composition: GC {gc_gen.mean():.3f} (real {gc_ref.mean():.3f}); k-mer JS "
            + ", ".join(f"k{k} {v:.4f}" for k, v in js.items()))


def _kmer_subsampling_se(run: Run, spectra: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    """``kmer_kl_k*``/``kmer_js_k*`` subsampling errors, from the reference's bootstrap spectra (cached)."""
    from d3core.evaluation.subsampling import BOOTSTRAP, bootstrap_rows, standard_error

    n, total = len(run.ref_tokens), len(run.all_ref_tokens)

    def spectra_of_draws() -> dict[str, np.ndarray]:
        draws = bootstrap_rows(n, run.seed)
        return {f"k{k}": np.stack([M.kmer_spectrum(run.ref_tokens[rows], k) for rows in draws]) for k in spectra}

    boot = run.cache.get("kmer_spectra_bootstrap", {"ks": sorted(spectra), "draws": BOOTSTRAP, "seed": run.seed},
                         spectra_of_draws)
    for k, (_, generated) in spectra.items():
        for name, fn in (("kl", M.kmer_kl), ("js", M.kmer_js)):
            run.metrics[f"kmer_{name}_k{k}{SE_SUFFIX}"] = standard_error(
                [fn(p, generated) for p in boot[f"k{k}"]], n, total)


SECTION = Section("composition", compute,
                  directions={"gc_abs_diff": "lower", "gc_ks": "lower", "kmer_kl_k*": "lower", "kmer_js_k*": "lower"})
