"""``--reference-rows``: a seeded subset stratified by activity, and the standard error it adds beside each
distribution figure (issue 31)."""
from __future__ import annotations

import numpy as np

from d3core.evaluation.subsampling import stratified_rows, subsampling_se


def test_stratified_rows_span_the_activity_range_and_are_seeded():
    labels = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    rows = stratified_rows(labels, 50, seed=3)
    assert len(rows) == 50 == len(set(rows)) and (np.diff(rows) > 0).all()
    assert np.array_equal(rows, stratified_rows(labels, 50, seed=3))
    assert not np.array_equal(rows, stratified_rows(labels, 50, seed=4))
    ranks = np.argsort(np.argsort(labels.mean(axis=1)))[rows]
    assert np.array_equal(np.sort(ranks // 20), np.arange(50))  # one row from each twentieth of the activity order
    assert np.array_equal(stratified_rows(labels[:10], 50), np.arange(10))


def test_subsampling_se_shrinks_to_zero_with_every_row():
    values = np.random.default_rng(1).normal(size=400)
    mean_of = lambda rows: float(values[rows].mean())  # noqa: E731
    se = subsampling_se(mean_of, 400, 4000)
    assert 0.5 * values.std() / 20 < se < 1.5 * values.std() / 20
    assert subsampling_se(mean_of, 400, 400) == 0.0


def test_evaluate_with_reference_rows(tiny_data, tiny_oracle, tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.oracle import load_oracle
    from d3core.evaluation.protocols import protocol
    from d3core.evaluation.report import evaluate_samples, render_report
    from d3core.generation import SampleSet

    dataset = DeepSTARR()
    test = dataset.open_split(tiny_data, "test")
    tokens, labels = (t.numpy() for t in test.read_batch(np.arange(len(test))))
    samples = SampleSet(tokens.astype(np.uint8), labels, ["dev", "hk"], np.arange(len(tokens)),
                        {"dataset": "deepstarr", "reference_split": "test"})
    settings = protocol("quick", kmer_ks=(3,), motifs=False, attributions=False)
    run = lambda out, n: evaluate_samples(samples, dataset, tiny_data, tmp_path / out,  # noqa: E731
                                          oracle=load_oracle(tiny_oracle), protocol=settings, discriminator=False,
                                          plots=False, reference_rows=n)
    full, part = run("full", None), run("part", 6)
    assert full["metrics"]["n_reference"] == 10 and part["metrics"]["n_reference"] == 6
    assert part["metrics"]["n_reference_total"] == 10
    assert part["metrics"]["sp_mse"] == full["metrics"]["sp_mse"]  # paired: always every row
    for name in ("kmer_js_k3", "kmer_kl_k3", "gc_ks", "ks_dev", "ks_mean", "frechet_distance",
                 "percent_identity_mean", "percent_identity_max", "nn_identity_reference_mean"):
        assert part["metrics"][f"{name}_subsample_se"] >= 0, name
        assert f"{name}_subsample_se" not in full["metrics"]
    text = render_report(part)
    assert f"| `kmer_js_k3` | {part['metrics']['kmer_js_k3']:.4g} ± " in text
    assert "6 of the 10 test rows" in " ".join(part["notes"])
