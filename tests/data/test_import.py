"""Import from FASTA + activity tables and from CSV/TSV: splits, joins, adapters, the N policy, errors."""
from __future__ import annotations

import gzip

import h5py
import numpy as np
import pytest

from d3core.data.encoding import canonical, decode, reverse_complement, tokens_from_one_hot
from d3core.data.importing import random_split
from d3core.errors import D3UserError


def _seqs(n, length=249, seed=0):
    rng = np.random.default_rng(seed)
    return decode(rng.integers(0, 4, size=(n, length)))


def _stark(tmp_path, split, seqs, dev, hk, tag):
    fa = tmp_path / f"Sequences_{tag}.fa"
    fa.write_text("".join(f">chr2L_{i}_{i + 249}_+_positive_peaks\n{s[:100]}\n{s[100:]}\n" for i, s in enumerate(seqs)))
    act = tmp_path / f"Sequences_activity_{tag}.txt"
    act.write_text("Dev_log2_enrichment\tHk_log2_enrichment\n" + "".join(f"{a}\t{b}\n" for a, b in zip(dev, hk)))
    return [f"--fasta", f"{split}={fa}", "--activity", f"{split}={act}"]


def _read(path, layout, split):
    with h5py.File(path, "r", locking=False) as f:
        tokens = tokens_from_one_hot(f[layout.x_name(split)][:], channel_axis=layout.channel_axis)[0]
        return decode(tokens), f[layout.y_name(split)][:], f.attrs["label_names"]


def test_stark_lab_files_with_given_splits(tmp_path, deepstarr, d3):
    args, want = [], {}
    for i, (split, tag) in enumerate((("train", "Train"), ("valid", "Val"), ("test", "Test"))):
        n = (20, 5, 6)[i]
        seqs = _seqs(n, seed=i)
        dev, hk = np.round(np.linspace(-1, 3, n), 3), np.round(np.linspace(2, 0, n), 3)
        args += _stark(tmp_path, split, seqs, dev, hk, tag)
        want[split] = (seqs, np.c_[dev, hk])
    out = tmp_path / "DeepSTARR_data.h5"
    result = d3("data", "import", "deepstarr", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    for split, (seqs, y) in want.items():
        got_seqs, got_y, names = _read(out, deepstarr.layout, split)
        assert got_seqs == seqs and np.allclose(got_y, y) and names == '["dev", "hk"]'
    assert d3("data", "info", str(out)).exit_code == 0
    h = d3("data", "import", "deepstarr", *args, "--out", str(out))
    assert h.exit_code == 2 and "--force" in h.output


def test_table_random_split_is_seeded_and_keeps_reverse_complements_together(tmp_path, deepstarr):
    seqs = _seqs(30)
    rows = [(s, i * 0.1, -i * 0.1) for i, s in enumerate(seqs)] + [(reverse_complement(s), i * 0.1, -i * 0.1)
                                                                    for i, s in enumerate(seqs)]
    table = tmp_path / "t.csv.gz"
    with gzip.open(table, "wt") as fh:
        fh.write("sequence,dev,hk,note\n" + "".join(f"{s},{a},{b},x\n" for s, a, b in rows))
    a = deepstarr.import_files(tmp_path / "a.h5", tables=[str(table)], split_seed=1)
    b = deepstarr.import_files(tmp_path / "b.h5", tables=[str(table)], split_seed=1)
    c = deepstarr.import_files(tmp_path / "c.h5", tables=[str(table)], split_seed=2)
    sizes = {s: len(t) for s, (t, _) in a.splits.items()}
    assert sum(sizes.values()) == 60 and all(sizes.values())
    assert all((a.splits[s][0] == b.splits[s][0]).all() for s in a.splits)
    assert any(a.splits[s][0].shape != c.splits[s][0].shape or (a.splits[s][0] != c.splits[s][0]).any()
               for s in a.splits)
    where = {}
    for split in ("train", "valid", "test"):
        for s in _read(tmp_path / "a.h5", deepstarr.layout, split)[0]:
            where.setdefault(canonical(s), set()).add(split)
    assert all(len(v) == 1 for v in where.values())  # never split across train/valid/test
    assert a.label_names == ["dev", "hk"]


def test_random_split_never_empty_for_three_rows():
    index = random_split(_seqs(3, 10), (0.8, 0.1, 0.1), seed=0)
    assert sorted(len(v) for v in index.values()) == [1, 1, 1]


def test_only_train_given_carves_valid_and_test(tmp_path, deepstarr):
    table = tmp_path / "train.tsv"
    table.write_text("seq\tactual_dev\tactual_hk\n" + "".join(f"{s}\t1\t2\n" for s in _seqs(40)))
    result = deepstarr.import_files(tmp_path / "o.h5", tables=[f"train={table}"])
    assert {s: len(t) for s, (t, _) in result.splits.items()} == {"train": 32, "valid": 4, "test": 4}
    assert any("carved out of train" in line for line in result.report)


def test_n_policy_error_names_file_and_line_and_random_replaces(tmp_path, deepstarr, d3):
    seqs = _seqs(12)
    seqs[4] = seqs[4][:100] + "N" + seqs[4][101:]
    table = tmp_path / "withn.csv"
    table.write_text("sequence,dev,hk\n" + "".join(f"{s},0.5,0.25\n" for s in seqs))
    with pytest.raises(D3UserError, match=r"withn.csv line 6: letter 'N' at position 101"):
        deepstarr.import_files(tmp_path / "x.h5", tables=[str(table)])
    r = d3("data", "import", "deepstarr", "--table", str(table), "--out", str(tmp_path / "x.h5"))
    assert r.exit_code == 2 and "withn.csv line 6" in r.output and "Traceback" not in r.output
    r = d3("data", "import", "deepstarr", "--table", str(table), "--out", str(tmp_path / "x.h5"),
           "--replace_n", "random", "--split_seed", "3")  # underscore spellings too
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["withn.csv", "x.h5"]  # no temporary file left


@pytest.mark.parametrize("case", ["length", "nan", "no_label", "no_seq", "pairing", "mixed", "bad_label_spec",
                                  "unknown_column", "ragged"])
def test_import_errors(case, tmp_path, d3):
    seqs = _seqs(10)
    good = tmp_path / "good.csv"
    good.write_text("sequence,dev,hk\n" + "".join(f"{s},1,2\n" for s in seqs))
    out = ["--out", str(tmp_path / "o.h5")]
    if case == "length":
        bad = tmp_path / "short.csv"
        bad.write_text("sequence,dev,hk\n" + "".join(f"{s[: 249 - (i == 3)]},1,2\n" for i, s in enumerate(seqs)))
        args, frags = ["--table", str(bad)], ["short.csv line 5", "248 bp, expected 249 bp"]
    elif case == "nan":
        bad = tmp_path / "nan.csv"
        bad.write_text("sequence,dev,hk\n" + "".join(f"{s},{'nan' if i == 2 else 1},2\n" for i, s in enumerate(seqs)))
        args, frags = ["--table", str(bad)], ["nan.csv line 4", "'dev'", "finite"]
    elif case == "no_label":
        bad = tmp_path / "plain.csv"
        bad.write_text("sequence,score_a,score_b\n" + "".join(f"{s},1,2\n" for s in seqs))
        args, frags = ["--table", str(bad)], ["plain.csv", "--label NAME=COLUMN"]
    elif case == "no_seq":
        bad = tmp_path / "noseq.csv"
        bad.write_text("dna_string,dev,hk\nACGT,1,2\n")
        args, frags = ["--table", str(bad)], ["noseq.csv", "no sequence column", "--seq-column"]
    elif case == "pairing":
        fa = tmp_path / "a.fa"
        fa.write_text(">a\n" + seqs[0] + "\n>b\n" + seqs[1] + "\n")
        act = tmp_path / "a.txt"
        act.write_text("Dev_log2_enrichment\tHk_log2_enrichment\n1\t2\n")
        args, frags = ["--fasta", str(fa), "--activity", str(act)], ["a.txt has 1 row(s)", "a.fa has 2 record(s)"]
    elif case == "mixed":
        args, frags = ["--table", f"train={good}", "--table", str(good)], ["split prefix"]
    elif case == "bad_label_spec":
        args, frags = ["--table", str(good), "--label", "dev"], ["NAME=COLUMN"]
    elif case == "unknown_column":
        args, frags = ["--table", str(good), "--label", "dev=activity"], ["no input has a column 'activity'"]
    else:
        bad = tmp_path / "ragged.csv"
        bad.write_text("sequence,dev,hk\n" + seqs[0] + ",1\n")
        args, frags = ["--table", str(bad)], ["ragged.csv line 2", "2 fields"]
    result = d3("data", "import", "deepstarr", *args, *out)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for frag in frags:
        assert frag in result.output, (frag, result.output)
    assert not list(tmp_path.glob("o.h5*"))  # nothing written
