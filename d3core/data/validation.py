"""Validation of dataset files, with errors that name the file, the key, the value and the fix.

Checked for every split: the X and Y keys exist; X is 3-D with 4 one-hot channels on the layout's axis and the
layout's sequence length; Y is ``[N, C]`` numeric with C = the number of label names; X and Y have the same (non-zero)
number of rows; labels are finite (NaN, a label not measured, only where the file's ``d3_measured`` attribute counts the
measured rows per split and label, and the counts match); the stored data lies inside the file (truncation); one-hot values are 0/1 with one
1 per position (all-zero or all-0.25 positions count as ``N``, reported, replaced at random when read). Labels are
checked on every row (they are small); one-hot values on a sample of rows (first, middle and last block), or on every
row with ``full=True``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from d3core.data.arrays import check_finite_labels
from d3core.data.layout import MEASURED_ATTR, H5Layout, open_h5, read_label_names
from d3core.errors import D3UserError

_BLOCK_ROWS = 8192


@dataclass
class SplitSummary:
    """What validation learned about one split."""

    split: str
    rows: int
    x_key: str
    x_shape: list[int]
    x_dtype: str
    y_key: str
    y_shape: list[int]
    y_dtype: str
    label_mean: list[float]
    label_std: list[float]
    label_min: list[float]
    label_max: list[float]
    checked_rows: int  # rows whose one-hot values were checked
    unknown_positions: int  # N positions among the checked rows
    measured: list[int] = field(default_factory=list)  # rows with a value (not NaN = missing), per label


@dataclass
class FileSummary:
    """The result of :func:`validate_file` (``d3 data info`` prints it)."""

    path: str
    dataset: str
    layout: str
    length: int
    label_names: list[str]
    label_names_from_file: bool
    size_bytes: int
    full_check: bool
    splits: dict[str, SplitSummary] = field(default_factory=dict)
    extra_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_measured(path: Path, f: h5py.File) -> dict[str, dict[str, int]] | None:
    """The file's :data:`~d3core.data.importing.MEASURED_ATTR` (``{split: {label: rows measured}}``), or None."""
    raw = f.attrs.get(MEASURED_ATTR)
    if raw is None:
        return None
    try:
        value = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            return value
    except (ValueError, TypeError, UnicodeDecodeError):
        pass
    raise D3UserError(f"{path}: its '{MEASURED_ATTR}' attribute is not JSON {{split: {{label: rows measured}}}}; "
                      "re-import the data with 'd3 data import'")


def _expected_measured(path: Path, measured: dict | None, split: str, names: Sequence[str]) -> list[int] | None:
    """The measured-row counts the file records for ``split`` in ``names`` order (None: no missing labels)."""
    if measured is None or split not in measured:
        return None
    counts = measured[split]
    if sorted(counts) != sorted(names) or not all(isinstance(v, int) and v >= 0 for v in counts.values()):
        raise D3UserError(f"{path}: '{MEASURED_ATTR}' of split '{split}' names {sorted(counts)}, not the labels "
                          f"{', '.join(names)} with row counts; re-import the data with 'd3 data import'")
    return [counts[name] for name in names]


def has_missing_labels(summary: FileSummary) -> bool:
    """Whether some label of some split of a validated file is not measured in every row."""
    return any(m < s.rows for s in summary.splits.values() for m in s.measured)


def _fix_hint(dataset: str) -> str:
    return (f"re-create the file with 'd3 data import {dataset} ...', 'd3 data synth {dataset} ...' or "
            f"'d3 data fetch {dataset}'")


def _check_inside_file(path: Path, key: str, ds: h5py.Dataset, file_size: int, dataset: str) -> None:
    """Raise if the stored bytes of ``ds`` extend past the end of the file (a truncated copy or download)."""
    ends: list[int] = []
    offset = ds.id.get_offset()
    if offset is not None:  # contiguous storage
        ends.append(offset + ds.id.get_storage_size())
    elif ds.chunks is not None:
        n_chunks = ds.id.get_num_chunks()
        picks = range(n_chunks) if n_chunks <= 4096 else np.linspace(0, n_chunks - 1, 4096).astype(int)
        for i in picks:
            info = ds.id.get_chunk_info(int(i))
            if info.byte_offset is not None:
                ends.append(info.byte_offset + info.size)
    if ends and max(ends) > file_size:
        raise D3UserError(f"{path}: key '{key}' needs {max(ends)} bytes but the file has {file_size} "
                          f"(truncated file); {_fix_hint(dataset)}")


def _read(path: Path, key: str, ds: h5py.Dataset, sel: Any, dataset: str) -> np.ndarray:
    try:
        return ds[sel]
    except OSError as exc:
        detail = " ".join(str(exc).split())
        raise D3UserError(f"{path}: key '{key}' cannot be read (corrupt or truncated file: {detail}); "
                          f"{_fix_hint(dataset)}") from exc


def _check_one_hot(path: Path, key: str, block: np.ndarray, first_row: int, layout: H5Layout) -> int:
    """Raise on values that are not one-hot; return the number of N positions in ``block``."""
    x = block if not layout.channels_first else np.swapaxes(block, 1, 2)  # -> [k, L, 4]
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    is01 = (x == 0) | (x == 1)
    one_hot = is01.all(-1) & (x.sum(-1) == 1)
    zero = (x == 0).all(-1)
    quarter = np.isclose(x, 0.25).all(-1)
    ok = one_hot | zero | quarter
    if not ok.all():
        r, p = (int(v[0]) for v in np.nonzero(~ok))
        values = [float(v) for v in x[r, p]]
        raise D3UserError(
            f"{path}: key '{key}' row {first_row + r} position {p}: one-hot values {values} are not a one-hot "
            "encoding (expected 0/1 with exactly one 1 per position; all-zero = N); the file is corrupt or not in "
            f"this layout ({layout.describe()})")
    return int((zero | quarter).sum())


def _sample_blocks(n: int, rows: int) -> list[tuple[int, int]]:
    if n <= 3 * rows:
        return [(0, n)]
    mid = (n - rows) // 2
    return [(0, rows), (mid, mid + rows), (n - rows, n)]


def _x_shape_error(path: Path, key: str, shape: tuple, layout: H5Layout, dataset: str) -> str | None:
    L = layout.length
    if len(shape) != 3:
        return (f"{path}: key '{key}' has shape {shape}; the {dataset} layout needs one-hot {layout.x_shape_text()}"
                f" (wrong one-hot shape); {_fix_hint(dataset)}")
    ch_axis, len_axis = (1, 2) if layout.channels_first else (2, 1)
    if shape[ch_axis] == 4 and shape[len_axis] != L:
        return (f"{path}: key '{key}' holds {shape[len_axis]} bp sequences (shape {shape}); {dataset} needs {L} bp "
                f"{layout.x_shape_text()} (wrong sequence length); use the dataset of that length (--dataset) or "
                f"{_fix_hint(dataset)}")
    if shape[len_axis] == 4 and shape[ch_axis] == L:
        order = "channels-last" if layout.channels_first else "channels-first"
        return (f"{path}: key '{key}' has shape {shape} ({order}); the {dataset} layout is "
                f"{layout.x_shape_text()} (wrong one-hot shape); {_fix_hint(dataset)}")
    if shape[ch_axis] != 4 or shape[len_axis] != L:
        return (f"{path}: key '{key}' has shape {shape}; the {dataset} layout needs one-hot {layout.x_shape_text()} "
                f"with 4 channels (wrong one-hot shape); {_fix_hint(dataset)}")
    return None


def validate_file(path: str | os.PathLike, layout: H5Layout, *, dataset: str, label_names: Sequence[str],
                  full: bool = False, sample_rows: int = 256, splits: Sequence[str] | None = None) -> FileSummary:
    """Check a dataset file against ``layout``; return a :class:`FileSummary` or raise :class:`D3UserError`.

    Args:
        path: the HDF5 file.
        layout: the dataset's layout.
        dataset: the dataset name (for messages).
        label_names: the dataset's default label names (the file's ``label_names`` attribute wins when present).
        full: check the one-hot values of every row (reads the whole file) instead of a sample.
        sample_rows: rows per sampled block (first, middle, last) when ``full`` is false.
        splits: the splits to check (default: all of the layout's).
    """
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    with open_h5(path) as f:
        keys = sorted(f.keys())
        file_labels = read_label_names(f)
        names = list(file_labels) if file_labels else list(label_names)
        measured_attr = read_measured(path, f)
        wanted = list(splits or layout.splits)
        missing = [k for s in wanted for k in (layout.x_name(s), layout.y_name(s)) if k not in keys]
        if missing and not layout.matches(keys):
            raise D3UserError(
                f"{path}: its keys ({', '.join(keys) or 'none'}) do not follow the {dataset} layout "
                f"({layout.x_key}/{layout.y_key} for {', '.join(wanted)}); is it another dataset's file? pass "
                f"--dataset NAME, or {_fix_hint(dataset)}")
        if missing:
            raise D3UserError(
                f"{path}: missing key(s) {', '.join(repr(k) for k in missing)} (file has: {', '.join(keys)}); the "
                f"{dataset} layout needs {layout.x_key}/{layout.y_key} for splits {', '.join(wanted)}; "
                f"{_fix_hint(dataset)}")
        summary = FileSummary(path=str(path), dataset=dataset, layout=layout.describe(), length=layout.length,
                              label_names=names, label_names_from_file=file_labels is not None, size_bytes=size,
                              full_check=full)
        used = set()
        for split in wanted:
            xk, yk = layout.x_name(split), layout.y_name(split)
            used.update((xk, yk))
            x, y = f[xk], f[yk]
            for key, obj in ((xk, x), (yk, y)):
                if not isinstance(obj, h5py.Dataset):
                    raise D3UserError(f"{path}: key '{key}' is a group, not an array; {_fix_hint(dataset)}")
            message = _x_shape_error(path, xk, x.shape, layout, dataset)
            if message:
                raise D3UserError(message)
            if x.dtype.kind not in "biuf":
                raise D3UserError(f"{path}: key '{xk}' has dtype {x.dtype}; one-hot data must be numeric (uint8, "
                                  f"bool or float); {_fix_hint(dataset)}")
            if y.ndim != 2 or y.dtype.kind not in "biuf":
                raise D3UserError(f"{path}: key '{yk}' has shape {y.shape} and dtype {y.dtype}; labels must be a "
                                  f"numeric [N, C] array; {_fix_hint(dataset)}")
            n = x.shape[0]
            if y.shape[0] != n:
                raise D3UserError(f"{path}: '{xk}' has {n} rows but '{yk}' has {y.shape[0]}; X and Y must have one "
                                  f"row per sequence; {_fix_hint(dataset)}")
            if n == 0:
                raise D3UserError(f"{path}: split '{split}' is empty ('{xk}' has 0 rows); every split needs at least "
                                  f"one row; {_fix_hint(dataset)}")
            if y.shape[1] != len(names):
                source = "the file's label_names attribute" if file_labels else f"the {dataset} default"
                raise D3UserError(f"{path}: '{yk}' has {y.shape[1]} label column(s) but {source} names "
                                  f"{len(names)} ({', '.join(names)}); write a matching 'label_names' attribute "
                                  f"or {_fix_hint(dataset)}")
            _check_inside_file(path, xk, x, size, dataset)
            _check_inside_file(path, yk, y, size, dataset)

            # labels: every row, in blocks (NaN = not measured, where the file counts the measured rows)
            c = y.shape[1]
            expected = _expected_measured(path, measured_attr, split, names)
            total = np.zeros(c)
            total_sq = np.zeros(c)
            count = np.zeros(c, dtype=np.int64)
            lo = np.full(c, np.inf)
            hi = np.full(c, -np.inf)
            for start in range(0, n, _BLOCK_ROWS * 8):
                block = np.asarray(_read(path, yk, y, slice(start, start + _BLOCK_ROWS * 8), dataset), np.float64)
                check_finite_labels(f"{path}: '{yk}'", block, names, first_row=start, missing=expected is not None,
                                    fix=f"drop or fix that row and {_fix_hint(dataset)}"
                                    + ("" if expected is not None else
                                       f" (NaN means 'not measured' only in files with a '{MEASURED_ATTR}' "
                                       "attribute, as 'd3 data import' writes)"))
                seen = ~np.isnan(block)
                block = np.where(seen, block, 0.0)
                count += seen.sum(0)
                total += block.sum(0)
                total_sq += (block ** 2).sum(0)
                lo = np.minimum(lo, np.where(seen, block, np.inf).min(0))
                hi = np.maximum(hi, np.where(seen, block, -np.inf).max(0))
            if expected is not None and count.tolist() != expected:
                raise D3UserError(f"{path}: split '{split}' has {count.tolist()} measured row(s) per label "
                                  f"({', '.join(names)}) but its '{MEASURED_ATTR}' attribute says {expected}; "
                                  f"{_fix_hint(dataset)}")
            mean = total / np.maximum(count, 1)
            std = np.sqrt(np.maximum(total_sq / np.maximum(count, 1) - mean ** 2, 0.0))

            # one-hot values: a sample, or everything
            blocks = ([(s, min(s + _BLOCK_ROWS, n)) for s in range(0, n, _BLOCK_ROWS)] if full
                      else _sample_blocks(n, sample_rows))
            unknown = checked = 0
            for start, stop in blocks:
                block = _read(path, xk, x, slice(start, stop), dataset)
                unknown += _check_one_hot(path, xk, block, start, layout)
                checked += stop - start
            summary.splits[split] = SplitSummary(
                split=split, rows=n, x_key=xk, x_shape=list(x.shape), x_dtype=str(x.dtype), y_key=yk,
                y_shape=list(y.shape), y_dtype=str(y.dtype), label_mean=mean.tolist(), label_std=std.tolist(),
                label_min=lo.tolist(), label_max=hi.tolist(), checked_rows=checked, unknown_positions=unknown,
                measured=count.tolist())
        summary.extra_keys = [k for k in keys if k not in used]
    return summary
