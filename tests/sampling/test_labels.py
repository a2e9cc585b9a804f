"""``--labels`` parsing: name=value pairs, positional values, CSV/TSV tables, and their errors."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.errors import D3UserError
from d3core.generation.labels import expand, format_value, label_rows, parse_label_values, read_label_table

NAMES = ["dev", "hk"]


@pytest.mark.parametrize("text", ["dev=4,hk=1.5", "hk=1.5,dev=4", "DEV=4, hk = 1.5", "4,1.5", " 4 , 1.5 "])
def test_one_row(text):
    np.testing.assert_array_equal(parse_label_values(text, NAMES), np.array([4.0, 1.5], np.float32))


@pytest.mark.parametrize("text, message", [
    ("dev=4", "no value for hk"),
    ("dev=4,hk=1,tissue=2", "unknown label 'tissue'; this model's labels are dev, hk"),
    ("dev=4,dev=2", "'dev' given twice"),
    ("4", "1 value\\(s\\) for 2 labels"),
    ("4,1,2", "3 value\\(s\\) for 2 labels"),
    ("dev=4,1", "mixes name=value pairs and positional values"),
    ("dev=high,hk=1", "'high' is not a number"),
    ("4,nan", "not a finite number"),
    ("", "empty"),
])
def test_bad_values(text, message):
    with pytest.raises(D3UserError, match=message):
        parse_label_values(text, NAMES)


def test_tables(tmp_path):
    header = tmp_path / "rows.csv"
    header.write_text("id,hk,dev\n# a comment\na,1,4\nb,0.5,-1\n\n")
    np.testing.assert_array_equal(read_label_table(header, NAMES), [[4, 1], [-1, 0.5]])
    plain = tmp_path / "rows.tsv"
    plain.write_text("4\t1\n0\t0\n")
    np.testing.assert_array_equal(read_label_table(plain, NAMES), [[4, 1], [0, 0]])
    rows = label_rows(["dev=9,hk=9", str(header), "0,0"], NAMES)
    assert rows.shape == (4, 2) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[:, 0], [9, 4, -1, 0])


@pytest.mark.parametrize("content, message", [
    ("id,dev\na,1\n", "no column for hk"),
    ("1,2,3\n", "3 column\\(s\\) without a header"),
    ("dev,hk\n1,x\n", "row 2 \\(hk\\): 'x' is not a number"),
    ("dev,hk\n1\n", "row 2: missing a value for 'hk'"),
    ("dev,hk\n", "a header but no rows"),
    ("\n# only comments\n", "has no rows"),
])
def test_bad_tables(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(D3UserError, match=message):
        read_label_table(path, NAMES)


def test_missing_table_file(tmp_path):
    with pytest.raises(D3UserError, match="cannot read the label table"):
        label_rows([str(tmp_path / "nope.csv")], NAMES)


def test_expand_is_row_major_and_values_print_exactly():
    out = expand(np.array([[1, 2], [3, 4]]), 3)
    np.testing.assert_array_equal(out[:, 0], [1, 1, 1, 3, 3, 3])
    for value in (4.0, 1.5, -0.1, 1 / 3, 1e-7, 3e9, 0.0):
        assert np.float32(float(format_value(value))) == np.float32(value)
    assert format_value(4.0) == "4" and format_value(-0.0) == "0"
