"""``d3 evaluate SAMPLES --checkpoint CK``: the mean bits per base of the generated and the reference sequences under
the model, side by side, in the report and metrics.json."""
from __future__ import annotations

import json


def test_evaluate_reports_the_likelihood_of_both_sets(d3_cli, tiny_checkpoint, tiny_data, tmp_path):
    samples = tmp_path / "designs.npz"
    assert d3_cli("sample", tiny_checkpoint, "--labels", "dev=1,hk=0", "--num", "6", "--steps", "2", "-o", samples,
                  "--no-progress").exit_code == 0
    out = tmp_path / "eval"
    result = d3_cli("evaluate", samples, "--checkpoint", tiny_checkpoint, "--score-samples", "4", "--data", tiny_data,
                    "--out", out, "--device", "cpu", "--no-discriminator", "--kmer-ks", "3", "--no-attributions",
                    "--no-motifs", "--no-progress")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["likelihood_n_generated"] == 6 and metrics["likelihood_n_reference"] == 10
    assert metrics["likelihood_samples"] == 4 and metrics["likelihood_condition"] == "labels"
    for name in ("generated", "reference"):
        assert 1.5 < metrics[f"likelihood_bpb_{name}"] < 2.5 and metrics[f"likelihood_bpb_{name}_stderr"] > 0
    assert metrics["likelihood_bpb_difference"] == metrics["likelihood_bpb_generated"] - \
        metrics["likelihood_bpb_reference"]
    assert "likelihood under" in result.output and "bits per base" in result.output
    assert "| `likelihood_bpb_generated` |" in (out / "report.md").read_text()


def test_score_samples_needs_a_checkpoint(d3_cli, tiny_checkpoint, tiny_data, tmp_path):
    samples = tmp_path / "designs.npz"
    assert d3_cli("sample", tiny_checkpoint, "--labels", "dev=1,hk=0", "--steps", "2", "-o", samples,
                  "--no-progress").exit_code == 0
    result = d3_cli("evaluate", samples, "--score-samples", "4", "--data", tiny_data, "--out", tmp_path / "e")
    assert result.exit_code == 2 and "--score-samples applies to --checkpoint only" in result.output
