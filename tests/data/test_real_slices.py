"""Slices of the real DeepSTARR and lentiMPRA subsets (tests/fixtures/real) import correctly."""
from __future__ import annotations

import csv

import h5py
import numpy as np

from d3core.data.encoding import decode, tokens_from_one_hot


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t" if path.suffix == ".tsv" else ","))


def _all_splits(path, layout):
    seqs, ys = [], []
    with h5py.File(path, "r", locking=False) as f:
        for split in ("train", "valid", "test"):
            assert f[layout.x_name(split)].shape[0] > 0
            seqs += decode(tokens_from_one_hot(f[layout.x_name(split)][:], channel_axis=layout.channel_axis)[0])
            ys.append(f[layout.y_name(split)][:])
    return seqs, np.concatenate(ys)


def test_deepstarr_dev_and_hk_tables_inner_join_on_the_sequence(h, tmp_path, deepstarr, d3):
    dev_file = h.real / "deepstarr_high_activity_dev_slice.csv"
    hk_file = h.real / "deepstarr_high_activity_hk_slice.csv"
    out = tmp_path / "ds.h5"
    result = d3("data", "import", "deepstarr", "--table", str(dev_file), "--table", str(hk_file), "--out", str(out),
                "--split-seed", "0", "--join", "inner")
    assert result.exit_code == 0, result.output
    assert "(inner join): 20 common row(s); dropped 40 of 80 input row(s)" in result.output
    dev = {r["sequence"]: float(r["actual_dev"]) for r in _rows(dev_file)}
    hk = {r["sequence"]: float(r["actual_hk"]) for r in _rows(hk_file)}
    seqs, y = _all_splits(out, deepstarr.layout)
    assert len(seqs) == 20 and set(seqs) == set(dev) & set(hk)
    for s, (a, b) in zip(seqs, y):  # measured activities, not the pred_* columns
        assert np.isclose(a, dev[s]) and np.isclose(b, hk[s])
    info = d3("data", "info", str(out))
    assert info.exit_code == 0 and "labels:  dev, hk (from the file)" in info.output


def test_deepstarr_one_activity_table_is_a_one_label_dataset(h, tmp_path, deepstarr):
    result = deepstarr.import_files(tmp_path / "dev.h5", tables=[str(h.real / "deepstarr_high_activity_dev_slice.csv")])
    assert result.label_names == ["dev"]
    summary = deepstarr.validate(tmp_path / "dev.h5", full=True)
    assert summary.label_names == ["dev"] and sum(s.rows for s in summary.splits.values()) == 40
    item = deepstarr.open_split(tmp_path / "dev.h5", "train")[0]
    assert item[0].shape == (249,) and item[1].shape == (1,)


def test_lentimpra_tables_trim_adapters_and_inner_join_cell_types(h, tmp_path, mpra, d3):
    hep = h.real / "lentimpra_val_HepG2_mpramnist_slice.tsv"
    wtc = h.real / "lentimpra_val_WTC11_mpramnist_slice.tsv"
    out = tmp_path / "m.h5"
    result = d3("data", "import", "mpra", "--table", str(hep), "--table", str(wtc), "--out", str(out),
                "--join", "inner")
    assert result.exit_code == 0, result.output
    hep_rows = {r["seq"]: float(r["mean_value"]) for r in _rows(hep)}
    wtc_rows = {r["seq"]: float(r["mean_value"]) for r in _rows(wtc)}
    common = set(hep_rows) & set(wtc_rows)
    seqs, y = _all_splits(out, mpra.layout)
    assert len(seqs) == len(common) == 10
    raw_of = {s[15:215]: s for s in common}
    assert all(len(s) == 200 for s in seqs) and set(seqs) == set(raw_of)
    for s, (a, b) in zip(seqs, y):  # label order: the dataset's (HepG2 before WTC11)
        assert np.isclose(a, hep_rows[raw_of[s]]) and np.isclose(b, wtc_rows[raw_of[s]])
    assert mpra.validate(out).label_names == ["HepG2", "WTC11"]
    with h5py.File(out, "r", locking=False) as f:
        assert f["x_train"].shape[1:] == (200, 4)  # the original channels-last layout


def test_lentimpra_single_table_label_from_file_name_or_flag(h, tmp_path, mpra):
    table = h.real / "lentimpra_WTC11_test_human_legnet_slice.tsv"
    auto = mpra.import_files(tmp_path / "a.h5", tables=[str(table)], split_seed=5)
    assert auto.label_names == ["WTC11"] and sum(len(t) for t, _ in auto.splits.values()) == 40
    explicit = mpra.import_files(tmp_path / "b.h5", tables=[str(table)], labels=["K562=mean_value"], split_seed=5)
    assert explicit.label_names == ["K562"]
    assert all((auto.splits[s][1] == explicit.splits[s][1]).all() for s in auto.splits)
    first = _rows(table)[0]["seq"]
    with h5py.File(tmp_path / "a.h5", "r", locking=False) as f:
        seqs = []
        for split in ("train", "valid", "test"):
            seqs += decode(tokens_from_one_hot(f[f"x_{split}"][:], channel_axis=2)[0])
    assert first[15:215] in seqs
