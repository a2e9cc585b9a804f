"""Likelihood in ``d3 evaluate --checkpoint``: the mean bits per base of the generated and of the reference sequences
under the model, side by side (how natural the model finds its own designs, against real DNA)."""
from __future__ import annotations

from typing import Any

import numpy as np

from d3core.scoring.scores import DEFAULT_SAMPLES, score_sequences

#: at most this many sequences of each set are scored by default (a random subset; the cost is N * K network rows)
DEFAULT_MAX_SEQUENCES = 1000


def likelihood_comparison(model, generated: np.ndarray, generated_labels: np.ndarray | None, reference: np.ndarray,
                          reference_labels: np.ndarray | None, *, samples: int = DEFAULT_SAMPLES, seed: int = 0,
                          max_sequences: int | None = DEFAULT_MAX_SEQUENCES, batch_size: int | None = None,
                          progress: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Score both sets; returns ``(metrics, notes)``.

    Each set is scored under its own labels (the generated sequences under the labels they were sampled for, the
    reference under its measurements) when the samples carry labels; otherwise both unconditionally (``-log p(x)``,
    a model trained with label dropout), or, for an unconditional model, as it is. Metrics:
    ``likelihood_bpb_generated``, ``likelihood_bpb_reference`` (mean bits per base) with their ``_stderr``, ``likelihood_bpb_difference`` (generated
    minus reference), ``likelihood_n_generated``, ``likelihood_n_reference``, ``likelihood_samples``,
    ``likelihood_condition``.
    """
    notes: list[str] = []
    if model.num_labels and generated_labels is None and not model.supports_guidance:
        return {}, [f"likelihood skipped: the samples carry no labels and {model.checkpoint} has no unconditional "
                    "score (trained without label dropout); score them with d3 score --labels"]
    conditional = bool(model.num_labels) and generated_labels is not None
    condition = "labels" if conditional else ("unconditional" if model.num_labels else "the model is unconditional")
    rng = np.random.default_rng(seed)
    sets = {"generated": (generated, generated_labels), "reference": (reference, reference_labels)}
    metrics: dict[str, Any] = {}
    for name, (tokens, labels) in sets.items():
        rows = np.arange(len(tokens))
        if max_sequences is not None and len(rows) > max_sequences:
            rows = np.sort(rng.choice(rows, size=max_sequences, replace=False))
            notes.append(f"likelihood of {max_sequences} random {name} sequences of {len(tokens)}")
        scores = score_sequences(model, tokens[rows], labels[rows] if conditional else None,
                                 unconditional=bool(model.num_labels) and not conditional, samples=samples, seed=seed,
                                 batch_size=batch_size, progress=progress)
        summary = scores.summary()
        metrics[f"likelihood_bpb_{name}"] = summary["mean_bits_per_base"]
        metrics[f"likelihood_bpb_{name}_stderr"] = summary["mean_bits_per_base_stderr"]
        metrics[f"likelihood_n_{name}"] = summary["n"]
    metrics["likelihood_bpb_difference"] = metrics["likelihood_bpb_generated"] - metrics["likelihood_bpb_reference"]
    metrics["likelihood_samples"] = int(samples)
    metrics["likelihood_condition"] = condition
    return metrics, notes
