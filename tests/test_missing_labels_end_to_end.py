"""Missing labels end to end, through the CLI, on the real lentiMPRA slices (tests/fixtures/real: a HepG2 and a WTC11
library of 40 rows each, 10 sequences shared): the outer join keeps 70 rows, each measured in one cell type or both.

A tiny Conv model (per-label nulls, set by ``d3 train`` itself) and a small oracle are trained on that file; then
``d3 oracle train`` reports metrics over the measured rows only, ``d3 design`` conditions on one cell type's label
(the other unconditioned), and ``d3 score --split`` scores each row under the labels it has. A model without per-label
nulls refuses those rows in one line, naming the labels, the rows and the fix.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

REAL = Path(__file__).parent / "fixtures" / "real"
TABLES = ("lentimpra_val_HepG2_mpramnist_slice.tsv", "lentimpra_val_WTC11_mpramnist_slice.tsv")
SAMPLING = ("--num", "3", "--steps", "4", "--seed", "3", "--no-progress")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """``(d3, root, what d3 oracle train said)``: ``root/hw.h5`` (the outer join of the two slices),
    ``root/run/checkpoints/last.ckpt`` (Conv tiny, 10 steps) and ``root/hw.oracle.ckpt`` (the mpra oracle, 1 epoch);
    ``d3(*args)`` runs the app in this process and asserts exit 0 (click's Result)."""
    from d3core.plugins import make_plugin_manager
    from d3core.testing.motifs import in_process_d3

    d3 = in_process_d3(make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"}))
    root = tmp_path_factory.mktemp("real-missing")
    data = root / "hw.h5"
    d3("data", "import", "mpra", *(a for t in TABLES for a in ("--table", REAL / t)), "--out", data,
       "--split-seed", "0")
    d3("train", "--dataset", "mpra", "--arch", "Conv", "--preset", "tiny", "--data", data, "--work_dir",
       root / "run", "--max_steps", "10", "--batch_size", "16", "--val_check_interval", "10", "--accelerator", "cpu",
       "--logger", "csv", "optim.lr=2e-3", "optim.warmup=5", "eval.batch_size=16",
       "lightning.checkpoint.save_top_k=0")
    said = d3("oracle", "train", "--dataset", "mpra", "--data", data, "-o", root / "hw.oracle.ckpt", "--max-epochs",
              "1", "--batch-size", "16", "--accelerator", "cpu", "--no-progress").output
    return d3, root, said


def _measured(path: Path, split: str) -> tuple[dict, np.ndarray]:
    """The file's measured counts of ``split`` and its labels ``[N, 2]`` (NaN: not measured)."""
    from d3_mpra.dataset import MPRA

    with h5py.File(path, "r", locking=False) as f:
        return json.loads(f.attrs["d3_measured"])[split], f[MPRA().layout.y_name(split)][:]


def test_oracle_train_on_the_real_file_uses_the_measured_rows(real_run):
    from d3core.evaluation.oracle import load_oracle

    _, root, said = real_run
    counts, labels = _measured(root / "hw.h5", "test")
    assert min(counts.values()) < len(labels)  # the test split does miss labels
    metrics = load_oracle(root / "hw.oracle.ckpt").info["metrics"]
    assert metrics["test_measured"] == counts  # per-label metrics over the rows where it was measured
    assert set(metrics["test_pearson"]) == {"HepG2", "WTC11"} and np.isfinite(metrics["test_mse"])
    rows = {line.split()[0]: line.split() for line in said.splitlines() if line.split()[:1] in (["HepG2"], ["WTC11"])}
    assert "measured rows" in said and all(rows[name][-1] == str(n) for name, n in counts.items())  # the table shows them


def test_design_conditions_on_one_cell_types_label_only(real_run):
    """``--labels HepG2=1`` on the model trained with missing labels: WTC11 stays unconditioned (NaN in the file),
    one candidate is exactly ``d3 sample`` with the same request, and MinGap design runs on the oracle of both."""
    from d3core.design import read_designs
    from d3core.generation import read_samples

    d3, root, _ = real_run
    checkpoint, oracle = root / "run" / "checkpoints" / "last.ckpt", root / "hw.oracle.ckpt"
    d3("design", checkpoint, "--oracle", oracle, "--objective", "HepG2", "--labels", "HepG2=1", "--candidates", "1",
       "--likelihood-samples", "0", *SAMPLING, "-o", root / "one.npz")
    d3("sample", checkpoint, "--labels", "HepG2=1", *SAMPLING, "-o", root / "sampled.npz")
    one = read_designs(root / "one.npz")
    np.testing.assert_array_equal(one.tokens, read_samples(root / "sampled.npz").tokens)
    assert one.label_names == ["HepG2", "WTC11"]
    assert np.all(one.labels[:, 0] == 1) and np.isnan(one.labels[:, 1]).all()
    d3("design", checkpoint, "--oracle", oracle, "--specific-to", "HepG2", "--labels", "HepG2=1", "--candidates",
       "4", "--likelihood-samples", "0", *SAMPLING, "-o", root / "specific.npz")
    specific = read_designs(root / "specific.npz")
    assert specific.metadata["objective"] == "HepG2 - WTC11" and specific.metadata["specific_to"] == "HepG2"
    np.testing.assert_allclose(specific.objective, specific.predictions[:, 0] - specific.predictions[:, 1],
                               rtol=1e-5, atol=1e-6)
    assert not np.array_equal(specific.tokens, one.tokens)  # the oracle steered


def test_score_split_scores_each_row_under_the_labels_it_has(real_run):
    """``d3 score --split`` on a split with missing labels: each row under its measured labels (the missing one
    unconditioned through its learned null), as the library scores the same rows; not as a measured 0."""
    from d3core.generation.sampling_model import SamplingModel
    from d3core.scoring import score_sequences
    from d3core.scoring.inputs import read_split

    d3, root, _ = real_run
    checkpoint, out = root / "run" / "checkpoints" / "last.ckpt", root / "scores.tsv"
    said = d3("score", "--split", "test", "-c", checkpoint, "--samples", "4", "--no-progress", "-o", out).output
    _, labels = _measured(root / "hw.h5", "test")
    lacking = np.isnan(labels).any(axis=1)
    assert lacking.any() and f"{int(lacking.sum())} row(s) lack a measured label, scored unconditioned on it" in said
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    np.testing.assert_array_equal(np.isnan([[float(r["HepG2"]), float(r["WTC11"])] for r in rows]), np.isnan(labels))
    sm = SamplingModel.load(checkpoint, "cpu")
    tokens = read_split(sm, "test").tokens
    expected = score_sequences(sm, tokens, labels, samples=4, seed=0, progress=False)
    np.testing.assert_allclose([float(r["nats"]) for r in rows], expected.nats, rtol=1e-4)
    as_zero = score_sequences(sm, tokens, np.nan_to_num(labels), samples=4, seed=0, progress=False)
    assert np.all(expected.nats[lacking] != as_zero.nats[lacking])  # missing is not "measured 0"
    np.testing.assert_array_equal(expected.nats[~lacking], as_zero.nats[~lacking])


@pytest.fixture
def deepstarr_with_missing(trained_checkpoint, tmp_path):
    """``(checkpoint without per-label nulls, its data file with hk missing in rows 2 and 5 of every split)``."""
    from d3core.testing.helpers import with_missing_labels

    checkpoint, data = trained_checkpoint

    def rows_2_and_5_of_hk(y):
        mask = np.zeros(y.shape, dtype=bool)
        mask[[2, 5], 1] = True
        return mask

    return checkpoint, with_missing_labels(data, tmp_path / "missing.h5", rows_2_and_5_of_hk)


def test_a_model_without_per_label_nulls_refuses_missing_labels_in_one_line(deepstarr_with_missing, d3_cli):
    checkpoint, data = deepstarr_with_missing
    result = d3_cli("score", "--split", "test", "--data", data, "-c", checkpoint, "--samples", "2", "--no-progress")
    assert result.exit_code == 2, result.output
    message = result.output.strip().splitlines()[-1]
    assert f"{data} (test split) has missing labels (not measured: hk in 2 of " in message
    assert "(first: row 2))" in message and "no per-label nulls" in message
    assert "--labels dev=1.0,hk=1.0" in message and "--unconditional" in message
    assert "Traceback" not in result.output
    given = d3_cli("score", "--split", "test", "--data", data, "-c", checkpoint, "--labels", "dev=1,hk=0",
                   "--samples", "2", "--no-progress")  # labels given: the missing measurements do not matter
    assert given.exit_code == 0, given.output
    sampled = d3_cli("sample", checkpoint, "--labels-from", "test", "--data", data, "--steps", "2", "--no-progress",
                     "-o", data.parent / "s.npz")
    assert sampled.exit_code == 2 and "hk in 2 of " in sampled.output and "give --labels instead" in sampled.output
