"""``d3 score`` as a user runs it on a real checkpoint (Tran tiny, one step, DeepSTARR layout: 249 bp, dev and hk):
sample files of every format with their labels read back, a dataset split, tables and NPZ, per-position
contributions, the mutation scan with its heat map, and one-line errors naming the record."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

L = 249


def _table(path, delimiter="\t"):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


@pytest.fixture(scope="module")
def sampled(trained_checkpoint, tmp_path_factory):
    """Sequences written by ``d3 sample`` (FASTA, with labels in the headers, and NPZ) from the test checkpoint."""
    from click.testing import CliRunner

    from d3core.cli import make_cli
    from d3core.plugins import make_plugin_manager

    ckpt, data = trained_checkpoint
    root = tmp_path_factory.mktemp("score")
    cli = make_cli(make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"}))
    for name in ("designs.fasta", "designs.npz"):
        result = CliRunner().invoke(cli, ["sample", str(ckpt), "--labels", "dev=1,hk=0", "--labels", "dev=0,hk=1",
                                          "--num", "3", "--steps", "4", "--no-progress", "-o", str(root / name)])
        assert result.exit_code == 0, result.output
    return ckpt, data, root


def test_scores_a_sample_file_under_the_labels_in_its_headers(sampled, d3_cli):
    ckpt, _, root = sampled
    out = root / "scores.tsv"
    result = d3_cli("score", root / "designs.fasta", "--checkpoint", ckpt, "--samples", "8", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    rows = _table(out)
    assert [r["id"] for r in rows] == [f"d3_{i}" for i in range(6)]
    assert [float(r["dev"]) for r in rows] == [1, 1, 1, 0, 0, 0]
    for r in rows:
        assert float(r["bits_per_base"]) == pytest.approx(float(r["nats"]) / (L * math.log(2)), rel=1e-4)
        assert 1.5 < float(r["bits_per_base"]) < 2.5 and float(r["nats_stderr"]) > 0  # one step: near uniform
    assert "mean" in result.output and "bits per base" in result.output and "labels stored in" in result.output
    # the NPZ sample file, its labels and the same draws give the same numbers
    again = root / "scores_npz.csv"
    assert d3_cli("score", root / "designs.npz", "-c", ckpt, "--samples", "8", "-o", again, "--no-progress",
                  "--batch-size", "5").exit_code == 0
    np.testing.assert_allclose([float(r["nats"]) for r in _table(again, ",")], [float(r["nats"]) for r in rows],
                               rtol=1e-5)


def test_npz_output_per_position_labels_given_and_unconditional(sampled, d3_cli):
    ckpt, _, root = sampled
    out = root / "per_position.npz"
    result = d3_cli("score", root / "designs.fasta", "-c", ckpt, "--labels", "dev=2,hk=2", "--per-position",
                    "--samples", "4", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as f:
        assert f["per_position"].shape == (6, L) and f["draws"].shape == (6, 4)
        np.testing.assert_allclose(f["per_position"].sum(axis=1), f["nats"], rtol=1e-6)
        assert np.all(f["labels"] == 2) and list(f["label_names"]) == ["dev", "hk"]
        assert '"samples": 4' in str(f["metadata"])
    prior = root / "prior.tsv"
    result = d3_cli("score", root / "designs.fasta", "-c", ckpt, "--unconditional", "--samples", "4", "-o", prior,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    assert "dev" not in _table(prior)[0] and "-log p(x)" in result.output


def test_scores_a_dataset_split_to_stdout(sampled, d3_cli):
    ckpt, data, _ = sampled
    result = d3_cli("score", "--split", "test", "--limit", "4", "--data", data, "-c", ckpt, "--samples", "4",
                    "--no-progress")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith("d3:")]
    assert lines[0].startswith("id\tnats\tnats_stderr\tbits_per_base\tbits_per_base_stderr\tdev\thk")
    assert [line.split("\t")[0] for line in lines[1:]] == [f"test:{i}" for i in range(4)]


def test_mutation_scan_writes_a_4_by_L_table_and_a_heat_map(sampled, d3_cli):
    ckpt, _, root = sampled
    out = root / "scan.tsv"
    result = d3_cli("score", root / "designs.fasta", "-c", ckpt, "--mutations", "--record", "d3_1", "--samples", "4",
                    "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    rows = _table(out)
    assert [r["base"] for r in rows] == ["A", "C", "G", "T", "A_stderr", "C_stderr", "G_stderr", "T_stderr"]
    columns = list(rows[0])[1:]
    assert len(columns) == L
    sequence = open(root / "designs.fasta").read().split("\n")[3]
    assert "".join(c[-1] for c in columns) == sequence  # columns name position and reference base
    for j, column in enumerate(columns):
        assert float(rows["ACGT".index(sequence[j])][column]) == 0.0
    assert (root / "scan.png").stat().st_size > 1000
    assert "largest increases" in result.output


@pytest.mark.parametrize("content, says", [
    (">ok\n" + "A" * L + "\n>short one\n" + "ACGT" * 10 + "\n", "record 'short' (line 3) is 40 bp; the model scores "
                                                                "249 bp"),
    (">ok\n" + "A" * L + "\n>odd\n" + "ACGN" + "A" * (L - 4) + "\n", "record 'odd' (line 3): letter 'N' at position "
                                                                     "4 is not A, C, G or T"),
])
def test_bad_records_are_one_line_errors_naming_the_record(sampled, d3_cli, tmp_path, content, says):
    ckpt, _, _ = sampled
    path = tmp_path / "mine.fasta"
    path.write_text(content)
    result = d3_cli("score", path, "-c", ckpt, "--labels", "1,1", "--no-progress")
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


def test_requests_that_cannot_be_served_are_one_line_errors(sampled, d3_cli, tmp_path):
    ckpt, _, root = sampled
    plain = tmp_path / "plain.fasta"
    plain.write_text(">x\n" + "ACGT" * 62 + "A\n")
    cases = [
        ((plain,), "carries no labels and the model is conditioned on dev, hk"),
        ((root / "designs.fasta", "--mutations", "-o", tmp_path / "m.tsv"), "--mutations scans one sequence"),
        ((root / "designs.fasta", "--labels", "1,1", "--labels", "2,2"), "--labels gives 2 label rows for 6"),
        ((root / "designs.fasta", "-o", tmp_path / "x.json"), "unknown output type '.json'"),
        ((), "give a SEQUENCES file or --split"),
    ]
    for args, says in cases:
        result = d3_cli("score", *args, "-c", ckpt, "--no-progress")
        assert result.exit_code == 2 and says in result.output, (args, result.output)


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_scores_a_design_table_under_its_labels_not_its_measurements(sampled, d3_cli, suffix):
    """A design file (objective, oracle predictions and construct adapters beside the labels) scores as the sample
    file it was made from: the same ids, labels and numbers."""
    from d3core.design import write_designs
    from d3core.design.driver import DesignSet
    from d3core.generation import read_samples

    ckpt, _, root = sampled
    samples = read_samples(root / "designs.npz")
    objective = np.arange(len(samples), dtype=np.float64)
    designs = DesignSet(samples.tokens, samples.labels, samples.label_names, objective[:, None].astype(np.float32),
                        ["dev"], objective, {**samples.metadata, "construct_flanks": ["GGTC", "AA"]},
                        {"bits_per_base": objective / 10}, samples.index)
    path = write_designs(root / f"as_designs{suffix}", designs, overwrite=True)
    plain, designed = root / f"plain{suffix}.tsv", root / f"designed{suffix}.tsv"
    for source, out in ((root / "designs.npz", plain), (path, designed)):
        result = d3_cli("score", source, "-c", ckpt, "--samples", "4", "-o", out, "--no-progress", "--force")
        assert result.exit_code == 0, result.output
    rows, expected = _table(designed), _table(plain)
    assert [r["id"] for r in rows] == [r["id"] for r in expected] == [f"d3_{i}" for i in range(6)]
    assert [(r["dev"], r["hk"]) for r in rows] == [(r["dev"], r["hk"]) for r in expected]
    np.testing.assert_allclose([float(r["nats"]) for r in rows], [float(r["nats"]) for r in expected], rtol=1e-5)
