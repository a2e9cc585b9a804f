"""Mean bits per base of the generated and the reference sequences under a model (``d3 evaluate --checkpoint``,
computed as ``d3 score`` does)."""
from __future__ import annotations

from d3core.evaluation.sections.base import COMPARE, Run, Section


def compute(run: Run) -> None:
    """``likelihood_*`` (bits per base) from :func:`~d3core.scoring.likelihood_comparison.likelihood_comparison`."""
    from d3core.scoring.likelihood_comparison import likelihood_comparison
    from d3core.scoring.scores import DEFAULT_SAMPLES

    metrics, notes = likelihood_comparison(run.likelihood_model, run.gen, run.samples.labels, run.ref_tokens,
                                           run.ref_labels, samples=run.likelihood_samples or DEFAULT_SAMPLES,
                                           seed=run.seed, progress=run.progress)
    run.metrics.update(metrics)
    run.notes.extend(notes)
    run.extra.setdefault("inputs", {})["likelihood_checkpoint"] = str(run.likelihood_model.checkpoint)
    if metrics:
        run.say(f"likelihood ({metrics['likelihood_condition']}): generated {metrics['likelihood_bpb_generated']:.4f} "
                f"+- {metrics['likelihood_bpb_generated_stderr']:.4f} bits per base, {run.reference} "
                f"{metrics['likelihood_bpb_reference']:.4f} +- {metrics['likelihood_bpb_reference_stderr']:.4f}")


SECTION = Section("likelihood", compute, directions={
    "likelihood_bpb_generated": f"lower = more likely under the model {COMPARE}",
    "likelihood_bpb_difference": "near 0 (> 0: less natural than real DNA)"},
    applies=lambda run: run.likelihood_model is not None)
