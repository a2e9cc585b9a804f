"""The original D3 code's oracle checkpoints (PL_DeepSTARR, PL_mpra; tests/fixtures/original_oracles, written by the
original code): they load with weights_only=True and no data file, and predict and embed exactly as the original did
(the fixture's reference outputs, 1e-5 absolute); damaged files are one-line errors naming the tensor."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from d3core.errors import D3UserError
from d3core.evaluation.oracle import load_oracle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "original_oracles"
DEEPSTARR = FIXTURES / "oracle_DeepSTARR_DeepSTARR_data.ckpt"
DEEPSTARR_FULL = FIXTURES / "oracle_DeepSTARR_DeepSTARR_data.full_state.ckpt"
MPRA = FIXTURES / "oracle_mpra_mpra_data.ckpt"
TOLERANCE = 1e-5
CASES = [(DEEPSTARR, "DeepSTARR", "deepstarr", ["dev", "hk"]),
         (DEEPSTARR_FULL, "DeepSTARR", "deepstarr", ["dev", "hk"]),
         (MPRA, "mpra", "mpra", ["WTC11"])]


@pytest.fixture(scope="module")
def reference():
    return torch.load(FIXTURES / "reference_outputs.pt", weights_only=True)


@pytest.mark.parametrize("path, key, dataset, labels", CASES, ids=["deepstarr", "deepstarr-full-state", "mpra"])
def test_original_oracle_predicts_and_embeds_as_the_original(path, key, dataset, labels, reference):
    expected = reference[key]
    oracle = load_oracle(path)
    assert oracle.dataset == dataset and oracle.label_names == labels
    assert oracle.length == expected["x"].shape[2] and oracle.info["format"].startswith("original D3 oracle")
    from_tokens = oracle.predict(expected["indices"].numpy())
    from_one_hot = oracle.predict(expected["x"])
    embedding = oracle.embed(expected["indices"].numpy())
    assert from_tokens.shape == tuple(expected["y"].shape) and embedding.shape == (8, 256)
    assert np.abs(from_tokens - expected["y"].numpy()).max() <= TOLERANCE
    assert np.abs(from_one_hot - expected["y"].numpy()).max() <= TOLERANCE
    assert np.abs(embedding - expected["embedding"].numpy()).max() <= TOLERANCE
    # differentiable forward on one-hot input (what guidance and attributions need)
    x = expected["x"].clone().requires_grad_(True)
    oracle.forward(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_loading_never_unpickles_the_original_classes():
    # the fixture files hold only allow-listed globals; loading succeeds with the original's code absent
    for path in (DEEPSTARR, DEEPSTARR_FULL, MPRA):
        content = torch.load(path, weights_only=True)
        assert "hyper_parameters" not in content and isinstance(content["state_dict"], dict)
    import sys

    assert "PL_DeepSTARR" not in sys.modules and "PL_mpra" not in sys.modules


def _damaged(tmp_path, source: Path, key: str, how: str) -> Path:
    content = torch.load(source, weights_only=True)
    if how == "remove":
        del content["state_dict"][key]
    else:
        tensor = content["state_dict"][key]
        content["state_dict"][key] = torch.zeros((tensor.shape[0] + 3, *tensor.shape[1:]), dtype=tensor.dtype)
    path = tmp_path / f"{how}-{source.name}"
    torch.save(content, path)
    return path


@pytest.mark.parametrize("source, key, how", [
    (DEEPSTARR, "model.fc6.weight", "remove"), (DEEPSTARR, "model.conv2_filters", "reshape"),
    (DEEPSTARR, "model.fc7.weight", "reshape"), (DEEPSTARR, "model.conv1_filters", "remove"),
    (DEEPSTARR_FULL, "model.batchnorm3.running_var", "remove"),
    (MPRA, "model.res1.0.block.4.weight", "reshape"), (MPRA, "model.fc4.bias", "remove"),
    (MPRA, "model.fc6.weight", "reshape")])
def test_damaged_checkpoint_is_a_one_line_error_naming_the_key(d3_cli, tmp_path, source, key, how):
    path = _damaged(tmp_path, source, key, how)
    with pytest.raises(D3UserError, match=f"'{key}'"):
        load_oracle(path)
    result = d3_cli("oracle", "info", path)
    assert result.exit_code == 2 and f"'{key}'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_diffusion_checkpoint_is_not_an_oracle(tmp_path):
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"score_model.vocab_embed.weight": torch.zeros(4, 8)}, "epoch": 0}, path)
    with pytest.raises(D3UserError, match="fits no installed oracle network"):
        load_oracle(path)


def test_oracle_info_cli(d3_cli):
    result = d3_cli("oracle", "info", MPRA)
    assert result.exit_code == 0, result.output
    assert "original D3 oracle" in result.output and "labels WTC11" in result.output
    assert "label column(s) 2" in result.output and "weights only" in result.output
    assert "full Trainer state" in d3_cli("oracle", "info", DEEPSTARR_FULL).output


def _table(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    rows = list(csv.reader(open(path), delimiter="\t"))
    return rows[0], np.array([[float(v) for v in r[1:]] for r in rows[1:]]), [r[0] for r in rows[1:]]


def test_oracle_predict_cli_fasta_npz_and_embedding(d3_cli, tmp_path, reference):
    from d3core.data.encoding import decode

    expected = reference["DeepSTARR"]
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text("".join(f">s{i} any text\n{s}\n" for i, s in enumerate(decode(expected["indices"].numpy()))))
    out = tmp_path / "predictions.tsv"
    result = d3_cli("oracle", "predict", DEEPSTARR, fasta, "-o", out, "--embedding", "--device", "cpu")
    assert result.exit_code == 0, result.output
    header, values, ids = _table(out)
    assert header[:3] == ["id", "dev", "hk"] and len(header) == 3 + 256 and ids == [f"s{i}" for i in range(8)]
    assert np.abs(values[:, :2] - expected["y"].numpy()).max() <= TOLERANCE
    assert np.abs(values[:, 2:] - expected["embedding"].numpy()).max() <= TOLERANCE
    # an array of one-hot rows in another file (the original's [N, L, 4] sample layout), without embedding
    arrays = tmp_path / "arrays.npz"
    np.savez(arrays, arr_0=expected["x"].numpy().transpose(0, 2, 1), other=np.zeros(3))
    again = d3_cli("oracle", "predict", MPRA, arrays, "-o", tmp_path / "p.tsv")
    assert again.exit_code == 2 and "--key" in again.output and "arr_0" in again.output
    mpra_x = reference["mpra"]["x"].numpy().transpose(0, 2, 1)
    np.savez(arrays, arr_0=mpra_x, other=np.zeros(3))
    result = d3_cli("oracle", "predict", MPRA, arrays, "--key", "arr_0", "-o", tmp_path / "p.tsv")
    assert result.exit_code == 0, result.output
    header, values, ids = _table(tmp_path / "p.tsv")
    assert header == ["id", "WTC11"] and ids == [str(i) for i in range(8)]
    assert np.abs(values - reference["mpra"]["y"].numpy()).max() <= TOLERANCE
    refused = d3_cli("oracle", "predict", MPRA, arrays, "--key", "arr_0", "-o", tmp_path / "p.tsv")
    assert refused.exit_code == 2 and "already exists" in refused.output
    wrong = d3_cli("oracle", "predict", MPRA, fasta, "-o", tmp_path / "q.tsv")
    assert wrong.exit_code == 2 and "scores 200 bp" in wrong.output


def test_d3_oracle_files_go_through_the_same_loader(d3_cli, tiny_oracle, tmp_path):
    from d3core.generation import SampleSet, write_samples

    samples = write_samples(tmp_path / "s.npz", SampleSet(np.zeros((3, 249), np.uint8)))
    out = tmp_path / "pred.tsv"
    result = d3_cli("oracle", "predict", tiny_oracle, samples, "-o", out, "--embedding")
    assert result.exit_code == 0, result.output
    header, values, ids = _table(out)
    oracle = load_oracle(tiny_oracle)
    assert header[:3] == ["id", "dev", "hk"] and ids == ["d3_0", "d3_1", "d3_2"]
    np.testing.assert_allclose(values[:, :2], oracle.predict(np.zeros((3, 249), np.uint8)), atol=1e-6)
