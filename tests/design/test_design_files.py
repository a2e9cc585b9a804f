"""Design files in every format of the one table (:mod:`d3core.seqfiles`): labels, extra columns (objective, oracle
predictions, text columns) and metadata read back apart; the ids are ``d3_<i>``; construct adapters come off."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.design import read_designs, write_designs
from d3core.design.driver import DesignSet
from d3core.errors import D3UserError
from d3core.seqfiles.table import SUFFIXES


def _designs(flanks=None) -> DesignSet:
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 4, size=(4, 20), dtype=np.uint8)
    labels = np.array([[2, 0], [2, 0], [1.5, -1], [0.25, 3]], np.float32)
    predictions = np.array([[2.1, 0.2], [1.0, -0.5], [0.3, 0.7], [1e-5, 4]], np.float32)
    objective = np.array([1.93, -0.1, 1 / 3, 2e9])
    columns = {"bits_per_base": np.array([1.97, 1.5, np.nan, 2.0]), "judge:dev": np.array([0.1, 0.2, 0.3, 0.4]),
               "edits": np.array(["12:A>G;40:C>T", "", "3:T>A", ""]), "edit_count": np.array([2.0, 0, 1, 0])}
    metadata = {"method": "svdd", "objective": "dev - hk", "seed": 2, "length": 20, "construct_flanks": flanks}
    return DesignSet(tokens, labels, ["dev", "hk"], predictions, ["dev", "hk"], objective, metadata, columns,
                     np.array([0, 2, 3, 7]))


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("flanks", [None, ["GGTCTC", "AAGC"]])
def test_every_format_round_trips_labels_columns_and_metadata(tmp_path, suffix, flanks):
    original = _designs(flanks)
    back = read_designs(write_designs(tmp_path / f"d{suffix}", original))
    np.testing.assert_array_equal(back.tokens, original.tokens)  # the elements, adapters taken off
    assert back.label_names == ["dev", "hk"] and back.prediction_names == ["dev", "hk"]
    np.testing.assert_array_equal(back.labels, original.labels)
    np.testing.assert_allclose(back.predictions, original.predictions, rtol=1e-6)
    np.testing.assert_array_equal(back.objective, original.objective)
    assert list(back.columns) == list(original.columns)
    np.testing.assert_array_equal(back.columns["bits_per_base"], original.columns["bits_per_base"])
    assert back.columns["edits"].tolist() == original.columns["edits"].tolist()
    np.testing.assert_array_equal(back.ids, original.ids)
    assert back.metadata["objective"] == "dev - hk" and back.metadata["seed"] == 2
    assert "d3:columns" not in back.metadata
    assert [p.name for p in tmp_path.iterdir()] == [f"d{suffix}"]  # atomic: no temporary file left


def test_text_designs_are_plain_tables_with_one_id_scheme(tmp_path):
    write_designs(tmp_path / "d.tsv", _designs(["GGTCTC", "AAGC"]))
    header, first = (tmp_path / "d.tsv").read_text().splitlines()[:2]
    assert header.split("\t") == ["id", "sequence", "objective", "oracle:dev", "oracle:hk", "bits_per_base",
                                  "judge:dev", "edits", "edit_count", "dev", "hk", "ref", "d3:meta"]
    cells = first.split("\t")
    assert cells[0] == "d3_0" and cells[1].startswith("GGTCTC") and cells[1].endswith("AAGC") and cells[2] == "1.93"
    write_designs(tmp_path / "d.fasta", _designs())
    assert (tmp_path / "d.fasta").read_text().splitlines()[2] == (
        ">d3_2 objective=-0.1 oracle:dev=1 oracle:hk=-0.5 bits_per_base=1.5 judge:dev=0.2 edits= edit_count=0 dev=2 "
        "hk=0")


def test_older_tagged_design_tables_read(tmp_path):
    """A design table of an older d3 (ids d3_design_<i>, labels tagged label:<name>, no metadata)."""
    old = tmp_path / "old.tsv"
    old.write_text("id\tsequence\tobjective\toracle:dev\tlabel:dev\nd3_design_4\tACGT\t1.5\t2\t1\n")
    back = read_designs(old)
    assert back.label_names == ["dev"] and back.prediction_names == ["dev"] and back.ids.tolist() == [4]
    assert back.objective.tolist() == [1.5] and back.labels.tolist() == [[1.0]]


def test_a_sample_file_is_not_a_design_file(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("id,sequence,dev\nd3_0,ACGT,1\n")
    with pytest.raises(D3UserError, match=r"plain.csv: not a d3 design file \(no numeric 'objective' column"):
        read_designs(plain)


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_a_design_shard_of_no_designs_reads_back(tmp_path, suffix):
    """Every design of a shard left out by the synthesis rules: the shard still says what it is."""
    full = _designs()
    empty = DesignSet(full.tokens[:0], full.labels[:0], full.label_names, full.predictions[:0], full.prediction_names,
                      full.objective[:0], {**full.metadata, "total": 4}, {k: v[:0] for k, v in full.columns.items()},
                      full.ids[:0])
    back = read_designs(write_designs(tmp_path / f"shard{suffix}", empty))
    assert len(back) == 0 and back.tokens.shape == (0, 20) and back.labels.shape == (0, 2)
    assert list(back.columns) == list(full.columns) and back.metadata["total"] == 4


def test_a_design_npz_of_the_earlier_layout_reads(tmp_path):
    """Design .npz files written before the one format table (``predictions`` + ``prediction_names`` arrays, one
    array per extra column) still open, with their labels, predictions and columns apart."""
    import json

    path = tmp_path / "earlier.npz"
    tokens = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    np.savez_compressed(path, tokens=tokens, objective=np.array([1.5, 0.5]),
                        predictions=np.array([[2.0, 0.1], [1.0, 0.2]], np.float32),
                        prediction_names=np.asarray(["dev", "hk"]), index=np.array([0, 3]),
                        metadata=np.asarray(json.dumps({"objective": "dev - hk", "seed": 0})),
                        labels=np.array([[2.0, 0.0], [2.0, 0.0]], np.float32), label_names=np.asarray(["dev", "hk"]),
                        bits_per_base=np.array([1.9, 1.8]), edits=np.asarray(["1:A>C", ""]))
    designs = read_designs(path)
    np.testing.assert_array_equal(designs.tokens, tokens)
    assert designs.label_names == ["dev", "hk"] and designs.prediction_names == ["dev", "hk"]
    np.testing.assert_allclose(designs.predictions[:, 1], [0.1, 0.2])
    assert designs.ids.tolist() == [0, 3] and designs.metadata["objective"] == "dev - hk"
    assert sorted(designs.columns) == ["bits_per_base", "edits"]
    written = write_designs(tmp_path / "now.tsv", designs)                 # and on into today's formats
    assert read_designs(written).prediction_names == ["dev", "hk"]
