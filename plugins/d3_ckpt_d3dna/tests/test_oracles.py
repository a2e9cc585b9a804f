"""d3-dna's oracles: LegNet (lentiMPRA HepG2/K562) and the DeepSTARR CNN load through the dataset plugins'
registered networks, by content; predictions and the embedding (the input of the last linear layer) equal d3-dna's."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
ORACLES = {"Oracle_DeepSTARR.ckpt": ("deepstarr", ["dev", "hk"]),
           "Oracle_MPRA_HepG2.ckpt": ("lentimpra-hepg2", ["activity"]),
           "Oracle_MPRA_K562.ckpt": ("lentimpra-k562", ["activity"])}
TOLERANCE = 1e-5


@pytest.mark.parametrize("name", ORACLES)
def test_predict_and_embedding_equal_d3dna(d3dna, reference, name):
    from d3core.api import load_oracle

    torch.set_num_threads(1)
    dataset, labels = ORACLES[name]
    oracle = load_oracle(FIXTURES / name, dataset=dataset)
    expected = reference["outputs"][name]
    x = reference["inputs"][expected["input"]]
    assert (oracle.dataset, oracle.label_names) == (dataset, labels)
    assert np.abs(oracle.predict(x) - expected["predict"].numpy()).max() <= TOLERANCE
    assert np.abs(oracle.embed(x) - expected["penultimate_input_to_final_linear"].numpy()).max() <= TOLERANCE
    with torch.no_grad():
        forward = oracle.forward(x)
    assert forward.shape == (8, len(labels))  # d3's contract [B, C] (d3-dna's LegNet squeezes to [B])
    assert float((forward.reshape(expected["model_forward"].shape) - expected["model_forward"]).abs().max()) <= \
        TOLERANCE


def test_legnet_files_match_legnet_by_content(d3dna):
    """The HepG2 and K562 files are the same network: without a dataset to prefer, the first registered wins."""
    from d3core.api import load_oracle

    oracle = load_oracle(FIXTURES / "Oracle_MPRA_K562.ckpt")
    assert oracle.info["network"] == "d3_ckpt_d3dna.legnet:LegNetOracle"
    assert oracle.length == 230 and oracle.label_names == ["activity"]


def test_oracle_predict_cli_with_embedding(d3dna, d3_run_cli, reference, tmp_path):
    expected = reference["outputs"]["Oracle_MPRA_HepG2.ckpt"]
    sequences = tmp_path / "x.npz"
    np.savez(sequences, x=reference["inputs"]["oracle_onehot_L230"].numpy())
    out = tmp_path / "pred.tsv"
    result = d3_run_cli("oracle", "predict", FIXTURES / "Oracle_MPRA_HepG2.ckpt", sequences, "--key", "x",
                        "--embedding", "--device", "cpu", "-o", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert len(rows) == 8
    predicted = np.array([float(row["activity"]) for row in rows])
    embedding = np.array([[float(row[f"emb_{i}"]) for i in range(256)] for row in rows])
    assert np.abs(predicted - expected["predict"].numpy()[:, 0]).max() <= TOLERANCE
    assert np.abs(embedding - expected["penultimate_input_to_final_linear"].numpy()).max() <= TOLERANCE


def test_oracle_info_cli(d3dna, d3_run_cli):
    result = d3_run_cli("oracle", "info", FIXTURES / "Oracle_MPRA_HepG2.ckpt")
    assert result.exit_code == 0, result.output
    assert "LegNetOracle" in result.output and "230" in result.output


def test_truncated_and_reshaped_oracles(d3dna, d3_run_cli, tmp_path):
    from d3core.api import safe_torch_load

    data = (FIXTURES / "Oracle_MPRA_K562.ckpt").read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 3])
    result = d3_run_cli("oracle", "info", truncated)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    content = dict(safe_torch_load(FIXTURES / "Oracle_MPRA_K562.ckpt"))
    state = dict(content["state_dict"])
    state["model.head.0.weight"] = state["model.head.0.weight"][:, :128].clone()
    content["state_dict"] = state
    reshaped = tmp_path / "reshaped.ckpt"
    torch.save(content, reshaped)
    result = d3_run_cli("oracle", "info", reshaped)
    assert result.exit_code == 2 and "model.head.0.weight" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_design_with_the_published_oracles(d3dna, d3_run_cli, tmp_path):
    out = tmp_path / "designs.fasta"
    result = d3_run_cli("design", FIXTURES / "D3_Tran_MPRA_HepG2.ckpt", "--oracle", FIXTURES / "Oracle_MPRA_HepG2.ckpt",
                        "--judge", FIXTURES / "Oracle_MPRA_K562.ckpt", "--objective", "activity", "--labels",
                        "activity=1", "--num", 2, "--steps", 4, "--candidates", 2, "--device", "cpu", "--no-progress",
                        "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().count(">") == 2 and "judge:activity=" in out.read_text()


@pytest.mark.slow
def test_evaluate_with_the_published_oracle(d3dna, d3_run_cli, tmp_path):
    samples = tmp_path / "samples.fasta"
    assert d3_run_cli("sample", FIXTURES / "D3_Conv_MPRA_K562.ckpt", "--labels", "activity=1", "--num", 4, "--steps",
                      4, "--device", "cpu", "-o", samples).exit_code == 0
    result = d3_run_cli("evaluate", samples, "--dataset", "lentimpra-k562", "--data", FIXTURES / "data_MPRA_K562.h5",
                        "--oracle", FIXTURES / "Oracle_MPRA_K562.ckpt", "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    assert "mean oracle-predicted activity" in result.output
