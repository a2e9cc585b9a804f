"""Percent identity to the reference (§9.4), sequence diversity (§9.12), identity to the nearest training sequence
(memorisation)."""
from __future__ import annotations

import numpy as np

from d3core.evaluation import metrics as M
from d3core.evaluation.sections.base import COMPARE, Run, Section


#: nearest reference rows kept per generated sequence for the ``--reference-rows`` standard error: a bootstrap resample
#: leaves all of them out with probability about 0.37^K (1e-14), where the nearest identity would be an upper bound
NEAREST_KEPT = 32


def compute(run: Run) -> None:
    """``percent_identity_*``, ``sequence_diversity_*``, ``nn_identity_*`` (identities in % and fractions);
    ``extra["nn"]``: the nearest-training identities of both sets, for the plots. With ``--reference-rows``, the
    standard errors that subsampling adds to the figures that depend on the reference rows."""
    nearest, nearest_rows = M.top_identities(run.gen, run.ref_tokens, NEAREST_KEPT if run.subsampled else 1,
                                             device=run.device)
    to_ref = nearest[:, 0] * 100
    diversity = M.max_identity(run.gen, None, exclude_self=True, device=run.device) * 100
    # the reference's diversity on as many sequences as were generated (the statistic grows with the set size)
    same_size = np.sort(np.random.default_rng(run.seed).permutation(len(run.ref_tokens))[:len(run.gen)])
    ref_diversity = run.cache.get(
        "diversity_reference", {"rows": len(same_size), "seed": run.seed},
        lambda: {"diversity": M.max_identity(run.ref_tokens[same_size], None, exclude_self=True,
                                             device=run.device) * 100})["diversity"]
    run.metrics.update(percent_identity_mean=float(to_ref.mean()), percent_identity_max=float(to_ref.max()),
                       sequence_diversity_mean=float(np.mean(diversity)) if len(run.gen) > 1 else None,
                       sequence_diversity_reference_mean=float(np.mean(ref_diversity))
                       if len(same_size) > 1 else None)
    rows = np.arange(len(run.train))
    limit = run.protocol.identity_rows
    if limit is not None and len(rows) > limit:
        rows = np.sort(np.random.default_rng(run.seed).choice(rows, size=limit, replace=False))
        run.notes.append(f"nearest-training identity against {limit} random training rows of {len(run.train)}")
    train_tokens = run.train_tokens(rows)
    nn_gen = M.max_identity(run.gen, train_tokens, device=run.device)
    nn_ref = None if run.reference == "train" else run.cache.get(
        "nn_identity_reference", {"identity_rows": limit, "seed": run.seed},
        lambda: {"nn": M.max_identity(run.ref_tokens, train_tokens, device=run.device)})["nn"]
    run.metrics.update(nn_identity_mean=float(nn_gen.mean()), nn_identity_max=float(nn_gen.max()))
    if nn_ref is not None:
        run.metrics.update(nn_identity_reference_mean=float(nn_ref.mean()),
                           nn_identity_reference_max=float(nn_ref.max()))
    run.extra.update(nn=(nn_gen, nn_ref))
    _subsampling_errors(run, nearest, nearest_rows, nn_ref)
    run.say(f"identity: to {run.reference} {to_ref.mean():.1f}% (max {to_ref.max():.1f}%), diversity "
            f"{run.metrics['sequence_diversity_mean'] or float('nan'):.1f}% (real "
            f"{run.metrics['sequence_diversity_reference_mean'] or float('nan'):.1f}%), nearest training "
            f"{nn_gen.mean():.3f}")


def _subsampling_errors(run: Run, nearest: np.ndarray, nearest_rows: np.ndarray, nn_ref: np.ndarray | None) -> None:
    """``percent_identity_mean``/``_max`` and ``nn_identity_reference_mean``/``_max`` owe their reference rows a
    standard error when those are a ``--reference-rows`` subset: bootstrap resamples of the subset, each generated
    sequence's identity taken to its nearest row inside the resample (among its :data:`NEAREST_KEPT` nearest)."""
    if not run.subsampled:
        return

    def to_reference(rows: np.ndarray) -> np.ndarray:
        inside = np.zeros(len(run.ref_tokens), dtype=bool)
        inside[rows] = True
        kept = inside[nearest_rows] & (nearest_rows >= 0)
        return np.where(kept.any(axis=1), np.where(kept, nearest, -np.inf).max(axis=1), nearest[:, -1]) * 100

    run.subsampling_se("percent_identity_mean", lambda rows: float(to_reference(rows).mean()))
    run.subsampling_se("percent_identity_max", lambda rows: float(to_reference(rows).max()))
    if nn_ref is not None:
        run.subsampling_se("nn_identity_reference_mean", lambda rows: float(nn_ref[rows].mean()))
        run.subsampling_se("nn_identity_reference_max", lambda rows: float(nn_ref[rows].max()))


SECTION = Section("identity", compute, directions={
    "nn_identity_mean": f"lower {COMPARE}", "nn_identity_max": f"lower {COMPARE}",
    "percent_identity_mean": f"lower {COMPARE}", "percent_identity_max": f"lower {COMPARE}",
    "sequence_diversity_mean": f"lower = more diverse {COMPARE}"})
