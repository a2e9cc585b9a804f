"""End to end on tiny data: d3 train -> d3 sample -> d3 oracle train -> d3 evaluate (metrics.json, report, PNGs)."""
from __future__ import annotations

import json
import re

import numpy as np

from d3core.generation import read_samples

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_sample_then_evaluate(d3_cli, tiny_checkpoint, tiny_oracle, tmp_path):
    samples = tmp_path / "paired.npz"
    result = d3_cli("sample", tiny_checkpoint, "--labels-from", "test", "--steps", "2", "-o", samples,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval"
    result = d3_cli("evaluate", samples, "--out", out, "--device", "cpu", "--kmer-ks", "3-4",
                    "--attribution-sequences", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.md'}" in result.output
    report = json.loads((out / "metrics.json").read_text())
    metrics = report["metrics"]
    for key in ("sp_mse", "requested_mse", "requested_pearson_dev", "ks_dev", "ks_hk", "ks_mean", "kmer_kl_k3",
                "kmer_js_k3", "kmer_js_k4", "auroc", "nn_identity_mean", "nn_identity_max", "gc_generated",
                "gc_abs_diff", "frechet_distance", "percent_identity_mean", "percent_identity_max",
                "sequence_diversity_mean", "motif_enrichment_pearson", "motif_cooccurrence_frobenius",
                "attribution_consistency", "attribution_consistency_reference", "attribution_consistency_shuffled",
                "mechanistic_diversity_mean", "kmer3_pearson_top_dev", "kmer3_pearson_top_hk",
                "motif_pearson_top_dev", "fraction_above_dev", "fraction_above_hk"):
        assert key in metrics, key
    assert not any(k.startswith("js_kmer") for k in metrics)  # the base-2 JS of metrics version 1 is gone
    assert metrics["n_generated"] == metrics["n_reference"] == 10 and metrics["sp_mse"] >= 0
    assert 0 <= metrics["kmer_js_k3"] <= np.sqrt(np.log(2)) and 0 <= metrics["nn_identity_mean"] <= 1
    assert 0 <= metrics["percent_identity_mean"] <= 100 and metrics["frechet_distance"] >= -1e-6
    assert report["inputs"]["oracle"] == str(tiny_oracle) and report["metrics_version"] == 2
    assert report["protocol"] == "quick" and report["inputs"]["attribution"]["sequences"] == 4
    text = (out / "report.md").read_text()
    assert set(report["plots"]) == {"predicted_vs_requested", "activity_distribution", "kmer_spectrum",
                                    "gc_content", "nn_identity", "attribution_logos"}
    assert "## Motif hits per design" in text and (out / "motif_hits.tsv").read_text().startswith("design\tmotif")
    for name in report["plots"].values():
        assert f"]({name})" in text
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_groups_without_pairing_and_without_oracle(d3_cli, tiny_checkpoint, tiny_data, tmp_path):
    samples = tmp_path / "groups.fasta"
    assert d3_cli("sample", tiny_checkpoint, "--labels", "dev=3,hk=0", "--labels", "dev=0,hk=0", "--num", "4",
                  "--steps", "2", "-o", samples, "--no-progress").exit_code == 0
    # d3's FASTA records its run (d3:meta in the first header); a FASTA from elsewhere does not: name the dataset
    assert read_samples(samples).metadata["dataset"] == "deepstarr"
    plain = tmp_path / "plain.fasta"
    plain.write_text(re.sub(r" d3:meta=\S+", "", samples.read_text()))
    result = d3_cli("evaluate", plain, "--out", tmp_path / "e0")
    assert result.exit_code == 2 and "pass --dataset" in result.output
    result = d3_cli("evaluate", samples, "--dataset", "deepstarr", "--data", tiny_data, "--out", tmp_path / "e1",
                    "--device", "cpu", "--no-discriminator", "--kmer-ks", "3", "--no-attributions", "--no-motifs")
    assert result.exit_code == 0, result.output
    assert "conditioning: requested dev=3, hk=0 -> mean oracle-predicted" in result.output
    report = json.loads((tmp_path / "e1" / "metrics.json").read_text())
    assert "sp_mse" not in report["metrics"] and "auroc" not in report["metrics"]
    assert [g["n"] for g in report["groups"]] == [4, 4]
    assert any("SP-MSE skipped" in note for note in report["notes"])
    # an oracle for another dataset is refused; no oracle at all skips the oracle metrics
    lonely = tmp_path / "other.h5"
    from d3_deepstarr.dataset import DeepSTARR

    DeepSTARR().synthesize(lonely, 16, seed=1)
    result = d3_cli("evaluate", samples, "--dataset", "deepstarr", "--data", lonely, "--out", tmp_path / "e2",
                    "--device", "cpu", "--no-discriminator", "--kmer-ks", "3", "--no-motifs")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e2" / "metrics.json").read_text())
    assert "requested_mse" not in report["metrics"] and any("no oracle" in n for n in report["notes"])
    assert "predicted_vs_requested" not in report["plots"]


def test_evaluates_a_design_table(d3_cli, tiny_checkpoint, tiny_data, tiny_oracle, tmp_path):
    """d3 evaluate reads a design .tsv or .csv: its labels are the conditioning, its objective and oracle columns
    are not."""
    from d3core.design import write_designs
    from d3core.design.driver import DesignSet

    samples = tmp_path / "groups.npz"
    assert d3_cli("sample", tiny_checkpoint, "--labels", "dev=3,hk=0", "--num", "4", "--steps", "2", "-o", samples,
                  "--no-progress").exit_code == 0
    s = read_samples(samples)
    objective = np.linspace(0, 1, len(s))
    designs = DesignSet(s.tokens, s.labels, s.label_names, np.stack([objective, -objective], 1).astype(np.float32),
                        ["dev", "hk"], objective, s.metadata, {}, s.index)
    for suffix in (".tsv", ".csv"):
        path = write_designs(tmp_path / f"designs{suffix}", designs)
        result = d3_cli("evaluate", path, "--data", tiny_data, "--out", tmp_path / f"e{suffix}", "--device", "cpu",
                        "--no-discriminator", "--kmer-ks", "3", "--no-attributions", "--no-motifs")
        assert result.exit_code == 0, result.output
        assert "conditioning: requested dev=3, hk=0" in result.output
        report = json.loads((tmp_path / f"e{suffix}" / "metrics.json").read_text())
        assert [g["n"] for g in report["groups"]] == [4]


def test_wrong_length_samples_are_refused(d3_cli, tiny_data, tiny_oracle, tmp_path):
    from d3core.generation import SampleSet, write_samples

    path = write_samples(tmp_path / "short.npz", SampleSet(np.zeros((3, 100), np.uint8)))
    result = d3_cli("evaluate", path, "--dataset", "deepstarr", "--data", tiny_data)
    assert result.exit_code == 2 and "samples are 100 bp" in result.output


def test_sp_mse_callback_logs_during_training(d3_cli, tiny_data, tiny_oracle, tmp_path):
    run = tmp_path / "run"
    result = d3_cli("train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", tiny_data,
                    "--work_dir", run, "--max_steps", "4", "--batch_size", "8", "--val_check_interval", "2",
                    "--accelerator", "cpu", "--logger", "csv", "--callback", "sp_mse", "eval.batch_size=16",
                    "optim.warmup=1", "sampling.steps=2")
    assert result.exit_code == 0, result.output
    import csv

    rows = list(csv.DictReader(open(run / "csv" / "metrics.csv")))
    values = [float(r["sp_mse"]) for r in rows if r.get("sp_mse")]
    assert len(values) == 2 and all(v >= 0 for v in values)  # two validations, sanity check not counted


def test_sp_mse_without_oracle_is_a_user_error(d3_cli, tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    data = tmp_path / "fresh.h5"
    DeepSTARR().synthesize(data, 16, seed=2)
    result = d3_cli("train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", data,
                    "--work_dir", tmp_path / "run", "--max_steps", "1", "--accelerator", "cpu",
                    "--callback", "sp_mse")
    assert result.exit_code == 2
    assert "--callback sp_mse needs an oracle" in result.output and "d3 oracle train" in result.output


def test_commands_and_callback_are_registered(d3_cli):
    from d3core.plugins import make_plugin_manager

    help_text = d3_cli("--help").output
    for command in ("sample", "oracle", "evaluate"):
        assert f"  {command} " in help_text
    entry = make_plugin_manager(env={}).get("callbacks", "sp_mse")
    assert entry.factory == "d3core.evaluation.sp_mse:make_sp_mse" and entry.provider.builtin
