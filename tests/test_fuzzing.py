"""Fuzzing (hypothesis): the parsers of what users type and the files they hand d3 never raise anything but d3's
one-line errors (:class:`D3UserError`), whatever the input: the ``key=value`` override parser, the label parser
(``dev=4,hk=1``, positional values, label tables), the FASTA reader, the sample-file reader (FASTA, NPZ, HDF5 and
CSV files: empty, truncated, wrong dtypes and shapes, out-of-range tokens, NaN labels), the template parser
(``--template``, ``--fix``), the type of every float option (NaN, inf, huge) and design objectives."""
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
from d3core.generation import read_samples
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


# -- array sample files (.npz, .h5) and CSV sample files -----------------------------------------------------------
dtypes = st.sampled_from(["uint8", "int8", "int64", "uint64", "float32", "float64", "bool", "U3", "complex64"])
shapes = st.one_of(st.tuples(st.integers(0, 4), st.integers(0, 6)), st.tuples(st.integers(0, 3)),
                   st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 4)), st.just(()))
array_values = st.one_of(st.integers(-300, 300), st.floats(allow_nan=True, allow_infinity=True), st.just(3))


@st.composite
def arrays(draw):
    import numpy as np

    shape, dtype = draw(shapes), draw(dtypes)
    size = int(np.prod(shape)) if shape else 1
    raw = [draw(array_values) for _ in range(size)]
    with np.errstate(all="ignore"):
        if dtype.startswith("U"):
            return np.asarray([str(v) for v in raw], dtype=dtype).reshape(shape)
        values = np.asarray(raw, dtype=np.float64)
        if dtype[0] in "iub":
            values = np.nan_to_num(values, posinf=0, neginf=0)
        return values.astype(dtype).reshape(shape)


sample_arrays = st.dictionaries(st.sampled_from(["tokens", "labels", "label_names", "rows", "metadata", "other"]),
                                arrays(), max_size=5)
metadata_text = st.sampled_from(['{"first_index": 2}', "[1]", "{", "null", '{"reference_split": "test"}', ""])


def _check_sample_set(samples) -> None:
    """What every reader promises of a file it accepts."""
    import numpy as np

    assert samples.tokens.dtype == np.uint8 and samples.tokens.ndim == 2 and int(samples.tokens.max()) <= 3
    if samples.labels is not None:
        assert samples.labels.shape[0] == len(samples) and np.isfinite(samples.labels).all()


@FUZZ
@given(sample_arrays, metadata_text, st.one_of(st.none(), st.floats(0, 1)))
def test_npz_sample_files_only_raise_one_line_errors(tmp_path, content, metadata, cut):
    import numpy as np

    path = tmp_path / "s.npz"
    if metadata:
        content = {**content, "metadata": np.asarray(metadata)}
    np.savez(path, **content)
    if cut is not None:
        path.write_bytes(path.read_bytes()[: int(cut * path.stat().st_size)])
    samples = _one_line_error_or_value(lambda: read_samples(path))
    if samples is not None:
        _check_sample_set(samples)


@FUZZ
@given(sample_arrays, st.dictionaries(st.sampled_from(["label_names", "metadata", "has_labels"]), metadata_text,
                                      max_size=3), st.one_of(st.none(), st.floats(0, 1)),
       st.sets(st.sampled_from(["tokens", "labels", "rows"])))
def test_h5_sample_files_only_raise_one_line_errors(tmp_path, content, attributes, cut, groups):
    import h5py

    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        for key, value in content.items():
            f[key] = value.astype("S") if value.dtype.kind == "U" else value
        for key in groups - set(content):
            f.create_group(key)
        f.attrs.update(attributes)
    if cut is not None:
        path.write_bytes(path.read_bytes()[: int(cut * path.stat().st_size)])
    samples = _one_line_error_or_value(lambda: read_samples(path))
    if samples is not None:
        _check_sample_set(samples)


csv_cells = st.one_of(st.sampled_from(["id", "sequence", "dev", "ref", "ACGT", "ACGN", "1.5", "nan", "inf", "",
                                       "\"", "test:3", "d3_0"]), st.text(max_size=6))
csv_bytes = st.one_of(st.binary(max_size=200),
                      st.lists(st.lists(csv_cells, max_size=4).map(",".join), max_size=5)
                      .map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")))


@FUZZ
@given(csv_bytes)
def test_csv_sample_files_only_raise_one_line_errors(tmp_path, content):
    path = tmp_path / "s.csv"
    path.write_bytes(content)
    samples = _one_line_error_or_value(lambda: read_samples(path))
    if samples is not None:
        _check_sample_set(samples)


# -- numbers: every float option, objectives -----------------------------------------------------------------------
number_text = st.one_of(st.floats().map(str), st.integers().map(str),
                        st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e308",
                                         "0", "-0", "", "1_0", " 2 ", "0x10", "1e-999"]),
                        st.text(max_size=8))


@FUZZ
@given(number_text)
def test_float_options_refuse_what_is_not_a_finite_number(text):
    import math

    import click

    from d3core.cli.options import FiniteFloat

    for kind in (FiniteFloat(), FiniteFloat(min=0), FiniteFloat(min=0, max=1, min_open=True)):
        try:
            value = kind.convert(text, None, None)
        except click.BadParameter as exc:
            assert "\n" not in exc.format_message()
        else:
            assert math.isfinite(value)


objective_text = st.lists(st.one_of(st.sampled_from(["dev", "hk", "+", "-", "*", "/", "^", "(", ")", ",", "min(",
                                                     "max(", "abs(", "0", "1e308", "1e999", "2^1000000", "10"]),
                                    st.floats(allow_nan=False).map(str)), min_size=1, max_size=8).map(" ".join)
predictions = st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=4)


@FUZZ
@given(objective_text, predictions)
def test_objectives_are_finite_or_one_line_errors(text, rows):
    import numpy as np
    import torch

    from d3core.design.objective import parse_objective

    objective = _one_line_error_or_value(lambda: parse_objective(text, NAMES))
    if objective is None:
        return
    for values in (np.asarray(rows), torch.tensor(rows, dtype=torch.float32)):
        result = _one_line_error_or_value(lambda: objective(values))
        if result is not None:
            assert np.isfinite(np.asarray(result)).all()
