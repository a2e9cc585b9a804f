"""Fuzzing (hypothesis): the parsers of what users type and the files they hand d3 never raise anything but d3's
one-line errors (:class:`D3UserError`), whatever the input: the ``key=value`` override parser, the label parser
(``dev=4,hk=1``, positional values, label tables), the FASTA reader, the sample-file reader and the template
parser (``--template``, ``--fix``)."""
from __future__ import annotations

import gzip
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d3core.config import ConfigSources, _all_keys, assemble_config, load_base, peek_selection
from d3core.data.readers import read_delimited, read_fasta_records
from d3core.errors import D3UserError
from d3core.generation.io import read_samples
from d3core.generation.labels import label_rows, parse_label_values, read_label_table

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = ["dev", "hk"]
KEYS = _all_keys(load_base())


def _one_line_error_or_value(call):
    """Run ``call()``; a D3UserError must be one line; anything else propagates (and fails the test)."""
    try:
        return call()
    except D3UserError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        return None


# -- overrides -----------------------------------------------------------------------------------------------------
values = st.one_of(st.text(max_size=20), st.integers().map(str), st.floats().map(str),
                   st.sampled_from(["null", "true", "[1, 2", "{a: 1}", "${oops}", "[]", "{}", "~", "'", "\"x", "1e"]))
keys = st.one_of(st.sampled_from(KEYS), st.text(string.ascii_letters + "._[]$-", min_size=0, max_size=20),
                 st.lists(st.sampled_from(["optim", "lr", "no", "such", "model", "0", ""]), min_size=1,
                          max_size=4).map(".".join))
overrides = st.one_of(st.tuples(keys, values).map("=".join), st.text(max_size=30))


@FUZZ
@given(st.lists(overrides, min_size=1, max_size=3))
def test_overrides_only_raise_one_line_errors(items):
    sources = ConfigSources(overrides=list(items))
    _one_line_error_or_value(lambda: peek_selection(sources))
    _one_line_error_or_value(lambda: assemble_config(sources))


# -- labels --------------------------------------------------------------------------------------------------------
label_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.tuples(st.sampled_from(["dev", "hk", "DEV", "x", ""]), st.sampled_from(["=", ""]),
                       st.one_of(st.floats().map(str), st.text(max_size=5))).map("".join),
             min_size=1, max_size=4).map(",".join))


@FUZZ
@given(label_text)
def test_label_values_only_raise_one_line_errors(text):
    row = _one_line_error_or_value(lambda: parse_label_values(text, NAMES))
    if row is not None:
        assert row.shape == (2,) and all(abs(v) < float("inf") for v in row)
    _one_line_error_or_value(lambda: label_rows([text], NAMES))


table_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(st.lists(st.one_of(st.sampled_from(["dev", "hk", "1", "2.5", "nan", "inf", "\"", "", " "]),
                                st.text(max_size=6)), max_size=4).map(lambda cells: ",".join(cells)),
             max_size=5).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")))


@FUZZ
@given(table_bytes, st.sampled_from(["labels.csv", "labels.tsv", "labels.txt", "labels.csv.gz"]))
def test_label_tables_only_raise_one_line_errors(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    rows = _one_line_error_or_value(lambda: read_label_table(path, NAMES))
    if rows is not None:
        assert rows.ndim == 2 and rows.shape[1] == 2
    _one_line_error_or_value(lambda: read_delimited(path))


# -- FASTA and sample files ----------------------------------------------------------------------------------------
fasta_text = st.lists(st.one_of(st.text(">ACGTN ;\t\r" + string.ascii_letters, max_size=30),
                                st.sampled_from([">s1", ">", "ACGT" * 10, ";c", "", ">s2 ref=x:3", "\x00", "\ufeff>"])),
                      max_size=8).map("\n".join)
fasta_bytes = st.one_of(st.binary(max_size=200), fasta_text.map(lambda t: t.encode("utf-8", "surrogatepass")))


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


@FUZZ
@given(fasta_bytes, st.sampled_from(["s.fasta", "s.fa", "s.fasta.gz"]), st.booleans())
def test_fasta_files_only_raise_one_line_errors(tmp_path, content, name, corrupt_gzip):
    path = _write(tmp_path / name, content)
    if corrupt_gzip and name.endswith(".gz"):
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    _one_line_error_or_value(lambda: read_fasta_records(path))
    _one_line_error_or_value(lambda: read_samples(path))


@pytest.mark.parametrize("content", [b"\xff\xfe>s1\nACGT\n", b">s1\nAC\x00GT\n", b"\x1f\x8b\x08garbage"])
def test_known_awkward_files(tmp_path, content):
    for name in ("s.fasta", "labels.csv"):
        path = tmp_path / name
        path.write_bytes(content)
        _one_line_error_or_value(lambda: read_fasta_records(path))
        _one_line_error_or_value(lambda: read_label_table(path, NAMES))


# -- templates (d3 sample --template / --fix) ----------------------------------------------------------------------
template_text = st.one_of(st.text(max_size=30), st.text("ACGTNacgtn", max_size=20),
                          st.sampled_from(["seq.fasta", "x.fa.gz", "ACGT" * 4, "N" * 16, ""]))
fix_text = st.one_of(st.text(max_size=20), st.tuples(st.integers(-5, 40).map(str), st.sampled_from([":", "", "::"]),
                                                     st.text("ACGTNX", max_size=8)).map("".join))


@FUZZ
@given(template_text, st.lists(fix_text, max_size=3))
def test_templates_and_fixes_only_raise_one_line_errors(tmp_path, template, fixes):
    from d3core.generation.templates import add_fixes, check_free_positions, parse_template

    def parse():
        parsed = parse_template(template, length=16) if template else None
        parsed = add_fixes(parsed, fixes, length=16)
        if parsed is not None:
            check_free_positions(parsed)
        return parsed

    _one_line_error_or_value(parse)


@FUZZ
@given(fasta_bytes, st.sampled_from(["t.fasta", "t.fa.gz"]))
def test_template_files_only_raise_one_line_errors(tmp_path, content, name):
    from d3core.generation.templates import parse_template

    path = _write(tmp_path / name, content)
    _one_line_error_or_value(lambda: parse_template(str(path), length=16))
