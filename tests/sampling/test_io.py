"""Sample files: every format round-trips tokens, labels, names and reference rows; writes are atomic."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.errors import D3UserError
from d3core.generation import SampleSet, SampleWriter, read_samples, write_samples

FORMATS = ["fasta", "fa", "npz", "h5", "csv", "tsv"]  # every format of d3core.seqfiles.table


def _samples(with_labels=True, with_rows=True) -> SampleSet:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 4, size=(7, 30), dtype=np.uint8)
    labels = np.array([[4.0, 1.5], [1 / 3, -0.1], [0, 0], [2.5, 1e-5], [7, 8], [1, 1], [3e9, -2]], np.float32)
    rows = np.array([0, 1, 2, 3, 4, 5, 17], np.int64)
    meta = {"checkpoint": "run/last.ckpt", "steps": 16, "predictor": "analytic", "seed": 3,
            "reference_split": "test" if with_rows else None, "length": 30}
    return SampleSet(tokens, labels if with_labels else None, ["dev", "hk"] if with_labels else [],
                     rows if with_rows else None, meta)


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("with_labels", [True, False])
def test_round_trip(tmp_path, ext, with_labels):
    original = _samples(with_labels=with_labels, with_rows=with_labels)
    path = write_samples(tmp_path / f"s.{ext}", original)
    back = read_samples(path)
    np.testing.assert_array_equal(back.tokens, original.tokens)
    assert back.sequences == original.sequences
    np.testing.assert_array_equal(back.index, np.arange(7))  # ids d3_0 .. d3_6
    assert back.columns == {}
    if with_labels:
        np.testing.assert_array_equal(back.labels, original.labels)  # exact float32 values, also through text
        assert back.label_names == ["dev", "hk"]
        np.testing.assert_array_equal(back.rows, original.rows)
        assert back.reference_split == "test"
    else:
        assert back.labels is None and back.label_names == []
        assert back.rows is None or (back.rows == -1).all()
    if with_labels or ext not in ("fasta", "fa"):  # every format keeps the metadata (issue 25)
        assert back.metadata["steps"] == 16 and back.metadata["predictor"] == "analytic"
        assert back.metadata["d3_samples_version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"s.{ext}"]  # no temporary files left


def test_fasta_headers_and_npz_keys(tmp_path):
    write_samples(tmp_path / "s.fasta", _samples())
    lines = (tmp_path / "s.fasta").read_text().splitlines()
    meta = ('{"d3_samples_version":1,"checkpoint":"run/last.ckpt","steps":16,"predictor":"analytic","seed":3,'
            '"reference_split":"test","length":30}')
    assert lines[0] == f">d3_0 dev=4 hk=1.5 ref=test:0 d3:meta={meta}"  # the metadata in the first header only
    assert lines[2] == ">d3_1 dev=0.33333334 hk=-0.1 ref=test:1" and lines[12] == ">d3_6 dev=3e+09 hk=-2 ref=test:17"
    spaced = _samples()
    spaced.metadata["checkpoint"] = "my runs/100% done.ckpt"  # whitespace and % are percent-encoded
    write_samples(tmp_path / "spaced.fasta", spaced)
    header = (tmp_path / "spaced.fasta").read_text().splitlines()[0]
    assert '"checkpoint":"my%20runs/100%25%20done.ckpt"' in header and len(header.split()) == 5
    assert read_samples(tmp_path / "spaced.fasta").metadata["checkpoint"] == "my runs/100% done.ckpt"
    write_samples(tmp_path / "s.csv", _samples())
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "id,sequence,dev,hk,ref,d3:meta"
    write_samples(tmp_path / "s.npz", _samples())
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        assert set(f.keys()) == {"tokens", "index", "labels", "label_names", "column_names", "rows", "metadata"}
        assert f["tokens"].dtype == np.uint8 and f["tokens"].shape == (7, 30)


def test_streamed_chunks_equal_one_write(tmp_path):
    whole = _samples()
    for ext in FORMATS:
        with SampleWriter(tmp_path / f"c.{ext}", whole.label_names, whole.metadata) as writer:
            for start in range(0, 7, 3):
                writer.write(whole.tokens[start:start + 3], whole.labels[start:start + 3], whole.rows[start:start + 3])
        back = read_samples(tmp_path / f"c.{ext}")
        np.testing.assert_array_equal(back.tokens, whole.tokens)
        np.testing.assert_array_equal(back.labels, whole.labels)


def test_atomic_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "s.fasta"
    target.write_text("old\n")
    with pytest.raises(D3UserError, match="already exists; choose another -o or pass --force"):
        SampleWriter(target, ["dev", "hk"])
    with pytest.raises(RuntimeError):
        with SampleWriter(target, ["dev", "hk"], overwrite=True) as writer:
            writer.write(_samples().tokens[:2], _samples().labels[:2])
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.fasta"]


def test_unknown_extension_and_foreign_files(tmp_path):
    with pytest.raises(D3UserError, match="unknown sequence file type '.txt'"):
        write_samples(tmp_path / "s.txt", _samples())
    plain = tmp_path / "plain.fasta"
    plain.write_text(">a some description\nACGT\nAC\n>b\nTTTTGG\n")
    back = read_samples(plain)
    assert back.sequences == ["ACGTAC", "TTTTGG"] and back.labels is None
    bad = tmp_path / "bad.fasta"
    bad.write_text(">a\nACGN\n")
    with pytest.raises(D3UserError, match="letter 'N'"):
        read_samples(bad)
    with pytest.raises(D3UserError, match="no such sequence file"):
        read_samples(tmp_path / "none.npz")
