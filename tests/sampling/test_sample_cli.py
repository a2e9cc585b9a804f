"""``d3 sample`` on a real d3 checkpoint: labels, formats, seeds, --labels-from, user errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from d3core.generation import read_samples


def test_labels_num_and_fasta_headers(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "two.fasta"
    result = d3_cli("sample", ckpt, "--labels", "dev=4,hk=1", "--labels", "0,0", "--num", "3", "--steps", "4",
                    "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "wrote 6 sequences" in result.output and "seq/s" in result.output
    headers = [line for line in out.read_text().splitlines() if line.startswith(">")]
    assert headers[0].startswith(">d3_0 dev=4 hk=1 d3:meta={") and headers[3] == ">d3_3 dev=0 hk=0"
    assert len(headers) == 6 and all("d3:meta" not in h for h in headers[1:])
    back = read_samples(out)
    assert back.tokens.shape == (6, 249) and back.metadata["steps"] == 4 and back.metadata["dataset"] == "deepstarr"


def test_seed_reproducible_across_batch_sizes_and_formats(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    common = ["--labels", "dev=2,hk=0.5", "--num", "5", "--steps", "3", "--no-progress"]
    assert d3_cli("sample", ckpt, *common, "--seed", "11", "--batch-size", "5", "-o", tmp_path / "a.npz").exit_code == 0
    assert d3_cli("sample", ckpt, *common, "--seed", "11", "--batch_size", "2", "-o", tmp_path / "b.h5").exit_code == 0
    assert d3_cli("sample", ckpt, *common, "--seed", "12", "-o", tmp_path / "c.csv").exit_code == 0
    a, b, c = (read_samples(tmp_path / name) for name in ("a.npz", "b.h5", "c.csv"))
    np.testing.assert_array_equal(a.tokens, b.tokens)
    assert (a.tokens != c.tokens).any()
    meta = a.metadata
    assert meta["steps"] == 3 and meta["seed"] == 11 and meta["precision"] == "32-true"
    assert meta["predictor"] == "analytic" and meta["checkpoint_format"] == "lightning"  # the original protocol
    assert len(meta["checkpoint_sha256"]) == 64 and meta["label_names"] == ["dev", "hk"]


def test_labels_from_test_and_a_csv_table(d3_cli, trained_checkpoint, tmp_path):
    ckpt, data = trained_checkpoint
    out = tmp_path / "paired.npz"
    result = d3_cli("sample", ckpt, "--labels-from", "test", "--limit", "4", "--steps", "2", "-o", out,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    back = read_samples(out)
    from d3_deepstarr.dataset import DeepSTARR

    test_labels = DeepSTARR().open_split(data, "test").read_batch([0, 1, 2, 3])[1].numpy()
    np.testing.assert_array_equal(back.labels, test_labels)
    np.testing.assert_array_equal(back.rows, [0, 1, 2, 3])
    assert back.reference_split == "test"
    table = tmp_path / "rows.csv"
    table.write_text("hk,dev\n0,5\n1,-1\n")
    assert d3_cli("sample", ckpt, "--labels", table, "--steps", "2", "-o", tmp_path / "t.csv",
                  "--no-progress").exit_code == 0
    np.testing.assert_array_equal(read_samples(tmp_path / "t.csv").labels, [[5, 0], [-1, 1]])


@pytest.mark.parametrize("args, message", [
    ([], "the model is conditioned on dev, hk: give --labels dev=1.0,hk=1.0"),
    (["--labels", "dev=1"], "no value for hk"),
    (["--labels", "dev=1,hk=2", "--labels-from", "test"], "exclude each other"),
    (["--labels", "1,1", "--precision", "fp8"], "--precision 'fp8'"),
    (["--labels", "1,1", "--device", "cuda:7"], "--device"),
])
def test_user_errors_exit_2_in_one_line(d3_cli, trained_checkpoint, tmp_path, args, message):
    ckpt, _ = trained_checkpoint
    result = d3_cli("sample", ckpt, *args, "--steps", "1", "-o", tmp_path / "x.fasta", "--no-progress")
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and message in error[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.fasta").exists()


def test_bad_output_and_checkpoint(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    result = d3_cli("sample", ckpt, "--labels", "1,1", "-o", tmp_path / "x.txt")
    assert result.exit_code == 2 and "unknown sample file type '.txt'" in result.output
    existing = tmp_path / "x.fasta"
    existing.write_text("keep")
    result = d3_cli("sample", ckpt, "--labels", "1,1", "-o", existing)
    assert result.exit_code == 2 and "--force" in result.output and existing.read_text() == "keep"
    result = d3_cli("sample", tmp_path / "missing.ckpt", "--labels", "1,1", "-o", tmp_path / "y.fasta")
    assert result.exit_code == 2 and "no such checkpoint" in result.output


def test_python_api(trained_checkpoint):
    from d3core.generation import SamplingModel

    ckpt, _ = trained_checkpoint
    sm = SamplingModel.load(ckpt, "cpu")
    assert sm.label_names == ["dev", "hk"] and sm.length == 249
    rows = sm.parse_labels(["dev=1,hk=0"])
    a = sm.sample(rows, 3, steps=2, seed=5, batch_size=1)
    b = sm.sample(rows, 3, steps=2, seed=5, batch_size=3)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    assert json.dumps(a.metadata)  # JSON-able


def test_the_predictor_and_method_choices_come_from_their_tables():
    """d3 sample offers every predictor of d3core.predictors, d3 design those that call the model and every method of
    d3core.design.methods: one table each, no list of its own in a command."""
    from d3core.cli.design import design
    from d3core.cli.sample import sample
    from d3core.design.methods import METHODS
    from d3core.predictors import predictor_names

    def choices(command, name):
        return list(next(p for p in command.params if p.name == name).type.choices)

    assert choices(sample, "predictor") == list(predictor_names()) == ["analytic", "euler", "none"]
    assert choices(design, "predictor") == list(predictor_names(calls_model=True)) == ["analytic", "euler"]
    assert choices(design, "method") == list(METHODS) == ["svdd", "smc", "evolve", "none"]
