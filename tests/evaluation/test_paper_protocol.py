"""``d3 evaluate --protocol paper`` end to end on tiny data with the original oracles: every metric of spec §9 with the
paper's settings, written beside the published figures for the dataset and architecture."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "original_oracles"
PAPER_METRICS = ("sp_mse", "frechet_distance", "percent_identity_mean", "percent_identity_max", "kmer_kl_k3",
                 "kmer_kl_k6", "kmer_js_k3", "kmer_js_k6", "auroc", "motif_enrichment_pearson",
                 "motif_cooccurrence_frobenius", "attribution_consistency", "sequence_diversity_mean",
                 "mechanistic_diversity_mean")


def test_paper_protocol_with_the_original_deepstarr_oracle(d3_cli, tiny_checkpoint, tmp_path):
    samples = tmp_path / "paired.npz"
    # two Euler steps: the default analytic predictor needs many steps (at 2 its jump from sigma 20 to 0.05 turns the
    # near-uniform score of a 1-step model into two-letter sequences, whose 3-mer spectrum then lacks k-mers)
    result = d3_cli("sample", tiny_checkpoint, "--labels-from", "test", "--steps", "2", "--predictor", "euler",
                    "-o", samples, "--no-progress")
    assert result.exit_code == 0, result.output
    out = tmp_path / "paper"
    result = d3_cli("evaluate", samples, "--oracle", FIXTURES / "oracle_DeepSTARR_DeepSTARR_data.ckpt",
                    "--protocol", "paper", "--out", out, "--device", "cpu", "--no-progress",
                    "--attribution-sequences", "4")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    metrics, settings = report["metrics"], report["inputs"]["settings"]
    for key in PAPER_METRICS:
        assert metrics.get(key) is not None or key == "kmer_kl_k6", key  # KL is infinite if a 6-mer is missing
    assert report["protocol"] == "paper" and settings["attribution_samples"] == 100
    assert settings["attribution_backgrounds"] == 1000 and settings["discriminator"] == "oracle"
    assert settings["kmer_ks"] == [3, 4, 5, 6] and report["inputs"]["attribution"]["label"] == "hk"
    assert report["inputs"]["motif_database"].startswith("JASPAR2022 CORE insects")
    # beside the published figures of DeepSTARR with the architecture recorded in the sample file (Tran)
    assert report["inputs"]["arch"].lower() == "tran"
    published = report["published"]
    assert published["sp_mse"]["published"] == 1.098 and published["sp_mse"]["this_run"] == metrics["sp_mse"]
    assert published["attribution_consistency_reference"]["published"] == 0.52
    text = (out / "report.md").read_text()
    assert "## Beside the published figures" in text and "| `sp_mse` |" in text and "1.098" in text
    assert "sp_mse: " in result.output and "(published: 1.098, D3 paper, D3-Tran; oracle: an original D3 oracle checkpoint" in result.output
    # the Conv figure when the samples are said to come from Conv
    again = d3_cli("evaluate", samples, "--oracle", FIXTURES / "oracle_DeepSTARR_DeepSTARR_data.ckpt",
                   "--protocol", "paper", "--arch", "Conv", "--out", tmp_path / "conv", "--device", "cpu",
                   "--no-progress", "--no-attributions", "--no-discriminator")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "conv" / "metrics.json").read_text())["published"]["sp_mse"]["published"] == 1.139


def test_original_mpra_oracle_scores_its_label_column(d3_cli, tmp_path):
    from d3_mpra.dataset import MPRA

    from d3core.generation import SampleSet, write_samples

    data = tmp_path / "mpra.h5"
    MPRA().synthesize(data, 64, seed=3)
    test = MPRA().open_split(data, "test")
    tokens, labels = (t.numpy() for t in test.read_batch(np.arange(len(test))))
    generated = tokens.astype(np.uint8).copy()
    generated[:, ::7] = (generated[:, ::7] + 1) % 4
    meta = {"dataset": "mpra", "data": str(data), "reference_split": "test", "arch": "Conv"}
    samples = write_samples(tmp_path / "mpra.npz", SampleSet(generated, labels, ["HepG2", "K562", "WTC11"],
                                                             np.arange(len(generated)), meta))
    out = tmp_path / "e"
    result = d3_cli("evaluate", samples, "--oracle", FIXTURES / "oracle_mpra_mpra_data.ckpt", "--out", out,
                    "--device", "cpu", "--no-progress", "--attribution-sequences", "3", "--no-discriminator",
                    "--activity-threshold", "WTC11=0")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    metrics = report["metrics"]
    assert report["inputs"]["oracle_labels"] == ["WTC11"] and "ks_WTC11" in metrics and "ks_HepG2" not in metrics
    assert metrics["sp_mse"] >= 0 and "requested_pearson_WTC11" in metrics
    assert report["inputs"]["activity_thresholds"] == {"WTC11": 0.0}
    assert report["inputs"]["motif_database"].startswith("JASPAR2022 CORE vertebrates")
    assert report["published"] == {}  # the paper published no WTC11 figure
    bad = d3_cli("evaluate", samples, "--oracle", FIXTURES / "oracle_mpra_mpra_data.ckpt", "--out", out,
                 "--activity-threshold", "K562=1", "--no-motifs", "--no-attributions", "--no-discriminator")
    assert bad.exit_code == 2 and "the oracle predicts WTC11" in bad.output


def test_paper_protocol_needs_the_motifs_extra(d3_cli, tiny_data, tmp_path, monkeypatch):
    import sys

    from d3core.generation import SampleSet, write_samples

    samples = write_samples(tmp_path / "s.npz", SampleSet(np.zeros((6, 249), np.uint8),
                                                          metadata={"dataset": "deepstarr"}))
    monkeypatch.setitem(sys.modules, "memelite", None)
    result = d3_cli("evaluate", samples, "--data", tiny_data, "--protocol", "paper", "--out", tmp_path / "e",
                    "--no-discriminator", "--device", "cpu")
    assert result.exit_code == 2 and "pip install 'd3core[motifs]'" in result.output
    quick = d3_cli("evaluate", samples, "--data", tiny_data, "--out", tmp_path / "q", "--no-discriminator",
                   "--device", "cpu", "--no-attributions")
    assert quick.exit_code == 0 and "motif metrics skipped" in quick.output
