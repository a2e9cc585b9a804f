"""The likelihood ranks sequences as a trained model sees them (the planted-motif model of ``at_rich_motif_run``: Conv tiny,
400 steps on 100 bp sequences with AP-1 and Dref planted in a GC 0.4 background).

Held-out real sequences score better than their dinucleotide shuffles (the motifs are gone, the composition kept),
which score better than uniform random DNA (the composition is gone too); the comparisons are paired on the same
sequences. The mean over the validation split agrees with the run's own ``val_loss`` (the same quantity, averaged over
one draw per sequence) within 3 standard errors of the difference.
"""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

N_TEST = 64
#: paired margins (nats per 100 bp sequence). Measured: shuffled - real 9.7 +- 0.5, random - shuffled 4.0 +- 0.4 (the
#: composition term: 100 x the cross-entropy excess of uniform DNA under a GC 0.4 background is 4.05 nats).
MARGIN_MOTIFS = 5.0
MARGIN_COMPOSITION = 1.5


@pytest.fixture(scope="module")
def motif_model(at_rich_motif_run, motif_manager):
    from d3core.generation.sampling_model import SamplingModel

    _, ckpt, root = at_rich_motif_run
    return SamplingModel.load(ckpt, "cpu", manager=motif_manager), root


def _paired(worse, better):
    """Mean paired difference ``worse - better`` (nats) and its standard error (independent draws per sequence)."""
    diff, stderr = worse.difference(better)
    return float(diff.mean()), float(math.sqrt((stderr ** 2).sum()) / len(diff))


@pytest.mark.slow
def test_real_scores_better_than_shuffled_better_than_random(motif_model):
    from d3core.evaluation.attribution import dinucleotide_shuffles
    from d3core.scoring import score_sequences
    from d3core.scoring.inputs import read_split

    sm, _ = motif_model
    test = read_split(sm, "test", limit=N_TEST)
    shuffled = dinucleotide_shuffles(test.tokens, seed=0)
    random = np.random.default_rng(0).integers(0, 4, size=test.tokens.shape).astype(np.uint8)
    real, shuf, rand = (score_sequences(sm, x, test.labels, samples=16, seed=0)
                        for x in (test.tokens, shuffled, random))
    motifs, motifs_se = _paired(shuf, real)
    composition, composition_se = _paired(rand, shuf)
    print(f"bits per base: real {real.summary()['mean_bits_per_base']:.4f}, shuffled "
          f"{shuf.summary()['mean_bits_per_base']:.4f}, random {rand.summary()['mean_bits_per_base']:.4f}; paired: "
          f"shuffled - real {motifs:.2f} +- {motifs_se:.2f} nats, random - shuffled {composition:.2f} +- "
          f"{composition_se:.2f} nats")
    assert motifs > MARGIN_MOTIFS and motifs > 3 * motifs_se
    assert composition > MARGIN_COMPOSITION and composition > 3 * composition_se
    assert real.summary()["mean_bits_per_base"] < 2.0 - 0.05  # the model has learned something


@pytest.mark.slow
def test_validation_mean_agrees_with_the_runs_val_loss(motif_model):
    """``val_loss`` averages one stratified draw per validation sequence; its own error is measured by repeating the
    validation pass with other seeds (``D3LightningModule.validation_step``'s draws) and combined with ours. The mean
    of those repeated passes (the training loss's expectation, to about a nat) must agree too: a sharper check."""
    import torch

    from d3core.diffusion import sedd_loss
    from d3core.scoring import score_sequences
    from d3core.scoring.inputs import read_split
    from d3core.training.module import stratified_times

    sm, root = motif_model
    rows = list(csv.DictReader(open(root / "run" / "csv" / "metrics.csv")))
    val_loss = float([r["val_loss"] for r in rows if r.get("val_loss")][-1])
    valid = read_split(sm, "valid")
    summary = score_sequences(sm, valid.tokens, valid.labels, samples=16, seed=0).summary()
    x0, labels = torch.from_numpy(valid.tokens).long(), torch.from_numpy(valid.labels)
    repeats = []
    with torch.no_grad():
        for seed in range(16):
            generator = torch.Generator().manual_seed(1000 + seed)
            t = stratified_times(len(x0), generator=generator)
            repeats.append(float(sedd_loss(sm.model, sm.graph, sm.noise, x0, labels, t=t, generator=generator).mean()))
    val_sd = float(np.std(repeats, ddof=1))
    combined = math.hypot(summary["mean_nats_stderr"], val_sd)
    repeated = math.hypot(summary["mean_nats_stderr"], val_sd / math.sqrt(len(repeats)))
    print(f"validation: score {summary['mean_nats']:.3f} +- {summary['mean_nats_stderr']:.3f} nats; the run's "
          f"val_loss {val_loss:.3f} (s.d. of a validation pass {val_sd:.3f}): "
          f"{(summary['mean_nats'] - val_loss) / combined:+.2f} SE; mean of {len(repeats)} passes "
          f"{np.mean(repeats):.3f}: {(summary['mean_nats'] - np.mean(repeats)) / repeated:+.2f} SE")
    assert abs(summary["mean_nats"] - val_loss) < 3 * combined
    assert abs(summary["mean_nats"] - float(np.mean(repeats))) < 3 * repeated
