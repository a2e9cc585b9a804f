"""Array files: the one reader of ``.npz`` and ``.h5`` sample-like files, and the checks of what they hold.

:func:`open_arrays` opens either kind read-only and hands out whole arrays by key (``reader.array("tokens")``) and,
for HDF5, attributes; every way a file can be unreadable -- empty (0 bytes), truncated, not a zip or HDF5 file at all,
a damaged member, an array of Python objects (never unpickled) -- is a one-line :class:`D3UserError` naming the file
and the key. The checks turn arrays into what d3 computes with, or say which key, row and value is wrong:

- :func:`token_array`: integer token indices ``[N, L]`` in 0..3 (A, C, G, T) -> ``uint8 [N, L]``;
- :func:`label_array`: numbers ``[N, C]`` -> ``float32 [N, C]``;
- :func:`row_array`: integers ``[N]`` -> ``int64 [N]``;
- :func:`check_finite_labels`: the finite-label check shared with dataset files (:mod:`d3core.data.validation`);
- :func:`describe_missing_labels`: which labels of which rows are NaN (not measured), for the one-line refusals of
  models that cannot leave a label unconditioned.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from d3core.errors import D3UserError

__all__ = ["ArrayReader", "check_finite_labels", "describe_missing_labels", "label_array", "open_arrays", "row_array", "token_array"]

_NAMES = {"npz": "NPZ", "h5": "HDF5"}
#: what goes wrong while unpacking a damaged .npz (zip) or HDF5 file
_DAMAGED = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, KeyError, RuntimeError)


def _detail(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class ArrayReader:
    """An open ``.npz`` or ``.h5`` file: ``keys`` (top-level arrays), ``array(key)``, ``attribute(name)`` (HDF5)."""

    def __init__(self, path: Path, handle: Any, kind: str, fix: str):
        self.path, self._handle, self.kind, self.fix = path, handle, kind, fix

    @property
    def keys(self) -> list[str]:
        return list(self._handle.files if self.kind == "npz" else self._handle.keys())

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def array(self, key: str) -> np.ndarray:
        """The whole array ``key`` (a missing key, a group or a damaged member: a :class:`D3UserError`)."""
        if key not in self.keys:
            raise D3UserError(f"{self.path}: no array {key!r} (keys: {', '.join(self.keys) or 'none'}); {self.fix}")
        if self.kind == "h5" and not hasattr(self._handle[key], "shape"):
            raise D3UserError(f"{self.path}: key {key!r} is an HDF5 group, not an array; {self.fix}")
        try:
            value = self._handle[key] if self.kind == "npz" else self._handle[key][()]
        except ValueError as exc:
            if "pickle" in str(exc):
                raise D3UserError(f"{self.path}: key {key!r} holds Python objects, which d3 never unpickles; "
                                  f"{self.fix}") from None
            raise self.damaged(exc, key) from None
        except _DAMAGED as exc:
            raise self.damaged(exc, key) from None
        if not isinstance(value, np.ndarray):
            raise D3UserError(f"{self.path}: key {key!r} is a {type(value).__name__}, not an array; {self.fix}")
        return value

    def attribute(self, name: str, default: Any = None) -> Any:
        """An HDF5 attribute of the file (``default`` for an .npz or a missing one)."""
        if self.kind != "h5":
            return default
        try:
            return self._handle.attrs.get(name, default)
        except _DAMAGED as exc:
            raise self.damaged(exc, f"attribute {name}") from None

    def damaged(self, exc: BaseException, key: str | None = None) -> D3UserError:
        where = f" (key {key!r})" if key else ""
        return D3UserError(f"{self.path}: a damaged or truncated .{self.kind} file{where}: {_detail(exc)}; {self.fix}")


@contextmanager
def open_arrays(path: str | os.PathLike, *, fix: str) -> Iterator[ArrayReader]:
    """Open an ``.npz`` (no pickles) or ``.h5``/``.hdf5`` file (by extension) for reading; ``fix`` ends every error
    (what the user should do, e.g. ``"write it again with d3 sample"``)."""
    path = Path(path)
    kind = "npz" if path.suffix.lower() == ".npz" else "h5"
    if not path.is_file():
        raise D3UserError(f"{path}: no such file" + (" (a directory)" if path.is_dir() else ""))
    if path.stat().st_size == 0:
        raise D3UserError(f"{path}: the file is empty (0 bytes); {fix}")
    try:
        if kind == "npz":
            handle = np.load(path, allow_pickle=False)
            if not isinstance(handle, np.lib.npyio.NpzFile):
                raise D3UserError(f"{path}: a single .npy array, not an .npz archive of named arrays; {fix}")
        else:
            import h5py

            handle = h5py.File(path, "r", locking=False)
    except D3UserError:
        raise
    except _DAMAGED as exc:
        detail = "neither a zip archive nor an .npy array" if "pickle" in str(exc) else _detail(exc)
        raise D3UserError(f"{path}: not a readable .{kind} file (truncated or not {_NAMES[kind]}? {detail}); "
                          f"{fix}") from None
    try:
        yield ArrayReader(path, handle, kind, fix)
    finally:
        handle.close()


def token_array(path: str | os.PathLike, key: str, array: np.ndarray, *, fix: str) -> np.ndarray:
    """``array`` as tokens ``uint8 [N, L]``: integers 0..3 (0=A, 1=C, 2=G, 3=T); anything else names the value."""
    array = np.asarray(array)
    if array.dtype.kind not in "iu" or array.ndim != 2 or (array.shape[0] and not array.shape[1]):
        raise D3UserError(f"{path}: key {key!r} is {array.dtype} with shape {list(array.shape)}; it must hold integer "
                          f"token indices [N, L] (0=A, 1=C, 2=G, 3=T); {fix}")
    outside = (array < 0) | (array > 3)
    if outside.any():
        row, position = (int(v) for v in np.argwhere(outside)[0])
        raise D3UserError(f"{path}: key {key!r} row {row} position {position + 1} holds {array[row, position]}; "
                          f"tokens must be 0..3 (0=A, 1=C, 2=G, 3=T); {fix}")
    return array.astype(np.uint8)


def check_finite_labels(where: str, block: np.ndarray, names: Sequence[str], *, first_row: int = 0,
                        fix: str, missing: bool = False) -> None:
    """Refuse a NaN or infinite label in ``block [n, C]`` (rows ``first_row ...`` of ``where``), naming the row,
    the column and its label name. ``missing``: NaN is allowed (a label not measured, in a file whose metadata counts
    the measured rows); infinities are still refused."""
    block = np.asarray(block, dtype=np.float64)
    bad = np.isinf(block) if missing else ~np.isfinite(block)
    if bad.any():
        row, column = (int(v) for v in np.argwhere(bad)[0])
        name = f" ({names[column]!r})" if column < len(names) else ""
        raise D3UserError(f"{where} row {first_row + row} column {column}{name} is {block[row, column]}; labels must "
                          f"be finite numbers; {fix}")


def describe_missing_labels(labels: np.ndarray, names: Sequence[str]) -> str:
    """Which labels of ``labels [n, C]`` are NaN (not measured), in words: ``"WTC11 in 36 of 70 rows (first: row
    0)"``, one clause per label with NaN (rows counted from 0); ``""`` when every label is measured."""
    missing = np.isnan(np.asarray(labels, dtype=np.float64))
    clauses = []
    for column in np.flatnonzero(missing.any(axis=0)):
        first = int(np.argmax(missing[:, column]))
        name = names[column] if column < len(names) else f"column {column}"
        clauses.append(f"{name} in {int(missing[:, column].sum())} of {len(missing)} rows (first: row {first})")
    return ", ".join(clauses)


def label_array(path: str | os.PathLike, key: str, array: np.ndarray, rows: int, names: Sequence[str], *,
                fix: str) -> np.ndarray:
    """``array`` as labels ``float32 [rows, C]``: real numbers, one row per sequence (finiteness:
    :func:`check_finite_labels`)."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf" or array.ndim != 2 or array.shape[0] != rows:
        raise D3UserError(f"{path}: key {key!r} is {array.dtype} with shape {list(array.shape)}; labels must be "
                          f"numbers [{rows}, C] (one row per sequence); {fix}")
    if names and array.shape[1] != len(names):
        raise D3UserError(f"{path}: key {key!r} has {array.shape[1]} column(s) for {len(names)} label names "
                          f"({', '.join(names)}); {fix}")
    return array.astype(np.float32)


def row_array(path: str | os.PathLike, key: str, array: np.ndarray, rows: int, *, fix: str) -> np.ndarray:
    """``array`` as reference rows ``int64 [rows]`` (``-1``: none)."""
    array = np.asarray(array)
    if array.dtype.kind not in "iu" or array.shape != (rows,):
        raise D3UserError(f"{path}: key {key!r} is {array.dtype} with shape {list(array.shape)}; it must hold "
                          f"{rows} integer row numbers; {fix}")
    return array.astype(np.int64)
