"""Missing labels: the outer join of per-cell-type tables keeps every row, stores what a table does not measure as NaN
and counts the measured rows per split and label in the file; NaN without that count stays an error."""
from __future__ import annotations

import csv
import json

import h5py
import numpy as np

from d3core.data.encoding import decode, tokens_from_one_hot
from d3core.data.layout import MEASURED_ATTR


def _table(path):
    with open(path, newline="") as fh:
        return {r["seq"][15:215]: float(r["mean_value"]) for r in csv.DictReader(fh, delimiter="\t")}


def _rows(path, layout):
    """``{sequence: label row}`` over every split, and the file's measured counts."""
    out = {}
    with h5py.File(path, "r", locking=False) as f:
        for split in ("train", "valid", "test"):
            seqs = decode(tokens_from_one_hot(f[layout.x_name(split)][:], channel_axis=layout.channel_axis)[0])
            out.update(zip(seqs, f[layout.y_name(split)][:]))
        measured = json.loads(f.attrs[MEASURED_ATTR]) if MEASURED_ATTR in f.attrs else None
    return out, measured


def test_real_hepg2_and_wtc11_tables_keep_every_row_and_the_masks_match(h, tmp_path, mpra, d3):
    hep_file = h.real / "lentimpra_val_HepG2_mpramnist_slice.tsv"
    wtc_file = h.real / "lentimpra_val_WTC11_mpramnist_slice.tsv"
    out = tmp_path / "m.h5"
    result = d3("data", "import", "mpra", "--table", str(hep_file), "--table", str(wtc_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "(outer join, the default): 70 row(s), 10 measured in every input" in result.output
    hep, wtc = _table(hep_file), _table(wtc_file)
    rows, measured = _rows(out, mpra.layout)
    assert set(rows) == set(hep) | set(wtc) and len(rows) == 70  # every row of both tables
    for seq, (a, b) in rows.items():  # NaN exactly where a table does not measure the sequence
        assert np.isnan(a) == (seq not in hep) and np.isnan(b) == (seq not in wtc)
        assert seq not in hep or np.isclose(a, hep[seq])
        assert seq not in wtc or np.isclose(b, wtc[seq])
    assert sum(m["HepG2"] for m in measured.values()) == 40 and sum(m["WTC11"] for m in measured.values()) == 40
    summary = mpra.validate(out, full=True)
    for split, s in summary.splits.items():
        assert s.measured == [measured[split]["HepG2"], measured[split]["WTC11"]]
    info = d3("data", "info", str(out))
    assert info.exit_code == 0, info.output
    for split, s in summary.splits.items():  # per split and label: measured rows of all rows
        for label in ("HepG2", "WTC11"):
            assert any(line.split()[:3] == [split, label, f"{measured[split][label]}/{s.rows}"]
                       for line in info.output.splitlines()), info.output


def test_inner_join_keeps_the_old_behaviour_and_says_what_it_dropped(h, tmp_path, mpra, d3):
    hep_file = h.real / "lentimpra_val_HepG2_mpramnist_slice.tsv"
    wtc_file = h.real / "lentimpra_val_WTC11_mpramnist_slice.tsv"
    out = tmp_path / "m.h5"
    result = d3("data", "import", "mpra", "--table", str(hep_file), "--table", str(wtc_file), "--out", str(out),
                "--join", "inner")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "dropped" in line]
    assert len(lines) == 1 and "dropped 60 of 80 input row(s)" in lines[0]
    rows, measured = _rows(out, mpra.layout)
    assert len(rows) == 10 and measured is None  # fully measured: written as before, no count attribute
    help_text = d3("data", "import", "--help").output
    assert "'outer' (default)" in " ".join(help_text.split())


def test_single_table_files_are_unchanged(h, tmp_path, mpra):
    table = h.real / "lentimpra_WTC11_test_human_legnet_slice.tsv"
    result = mpra.import_files(tmp_path / "a.h5", tables=[str(table)], split_seed=5)
    assert result.measured is None
    with h5py.File(tmp_path / "a.h5", "r", locking=False) as f:
        assert MEASURED_ATTR not in f.attrs and "join" not in json.loads(f.attrs["d3_source"])


def test_nan_without_the_measured_count_is_still_an_error(h, tmp_path, deepstarr, d3):
    _, x, y = h.random_split_arrays(8)
    y[3, 0] = np.nan
    path = h.write_h5(tmp_path / "nan.h5", {s: (x, y) for s in ("train", "valid", "test")},
                      attrs={"d3_dataset": "deepstarr"})
    h.assert_user_error(d3("data", "info", str(path)), "row 3 column 0 ('dev') is nan", "labels must be finite",
                        MEASURED_ATTR)


def test_nan_with_a_count_that_does_not_match_is_an_error(h, tmp_path, deepstarr, d3):
    _, x, y = h.random_split_arrays(8)
    y[3, 0] = np.nan
    counts = json.dumps({s: {"dev": 8, "hk": 8} for s in ("train", "valid", "test")})
    path = h.write_h5(tmp_path / "nan.h5", {s: (x, y) for s in ("train", "valid", "test")},
                      attrs={"d3_dataset": "deepstarr", MEASURED_ATTR: counts})
    h.assert_user_error(d3("data", "info", str(path)), "[7, 8] measured row(s)", "says [8, 8]")


def test_infinity_stays_an_error_in_files_with_missing_labels(h, tmp_path, deepstarr):
    import pytest

    from d3core.errors import D3UserError

    _, x, y = h.random_split_arrays(8)
    y[2, 1] = np.inf
    counts = json.dumps({s: {"dev": 8, "hk": 8} for s in ("train", "valid", "test")})
    path = h.write_h5(tmp_path / "inf.h5", {s: (x, y) for s in ("train", "valid", "test")},
                      attrs={"d3_dataset": "deepstarr", MEASURED_ATTR: counts})
    with pytest.raises(D3UserError, match="row 2 column 1 .* is inf"):
        deepstarr.validate(path)


def test_per_position_labels_with_missing_values_are_refused_at_import(h, tmp_path, mpra):
    """A dataset whose labels are a track per base has no per-label null: the outer join that would leave values
    missing is refused in one line with the fix, and the inner join (fully measured rows) still imports."""
    import pytest

    from d3core.errors import D3UserError

    class Tracks(type(mpra)):
        label_mode = "per_position"

    tables = [str(h.real / "lentimpra_val_HepG2_mpramnist_slice.tsv"),
              str(h.real / "lentimpra_val_WTC11_mpramnist_slice.tsv")]
    out = tmp_path / "tracks.h5"
    with pytest.raises(D3UserError) as error:
        Tracks().import_files(out, tables=tables)
    message = str(error.value)
    assert "\n" not in message and "measured: HepG2 40/70, WTC11 40/70" in message
    assert "only global labels support" in message and "per_position" in message and "--join inner" in message
    assert not out.exists()
    result = Tracks().import_files(out, tables=tables, join="inner")
    assert result.measured is None and out.is_file()
