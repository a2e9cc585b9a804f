"""HDF5 file layouts (key names, channel order) and the atomic writer.

A layout is a plugin's fact sheet about its file: ``X_{split}`` one-hot ``[N, 4, L]`` channels-first for DeepSTARR,
``x_{split}`` ``[N, L, 4]`` channels-last for MPRA, labels ``Y_{split}``/``y_{split}`` ``[N, C]`` float. Files written
by d3 also carry root attributes that the original code ignores:

- ``label_names``: JSON list of the label names (count and names of the label columns);
- ``d3_dataset``: the dataset name (``deepstarr``, ``mpra``) used by ``d3 data info`` to pick the layout;
- ``d3_source``: JSON description of how the file was made (import inputs, or synthesis parameters);
- ``d3_measured`` (:data:`MEASURED_ATTR`, only in files with missing labels): JSON ``{split: {label: rows measured}}``;
  with it a NaN label means "not measured in this row" (without it NaN is an error).

Every file is opened with ``locking=False`` (HDF5 file locking fails on many cluster file systems).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import h5py
import numpy as np

from d3core.atomic import AtomicWriter
from d3core.data.encoding import one_hot
from d3core.errors import D3UserError
from d3core.h5_output import H5Output

SPLITS = ("train", "valid", "test")
SPLIT_ALIASES = {"train": "train", "training": "train", "valid": "valid", "val": "valid", "validation": "valid",
                 "test": "test", "testing": "test"}
X_DTYPES = ("uint8", "float32")

#: file attribute: JSON ``{split: {label: rows measured}}``; its presence makes NaN labels mean "not measured"
MEASURED_ATTR = "d3_measured"


def normalize_split(split: str) -> str:
    """``val``/``validation`` -> ``valid``, ``training`` -> ``train``; unknown names are a user error."""
    key = SPLIT_ALIASES.get(str(split).strip().lower())
    if key is None:
        raise D3UserError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)} (or val, validation)")
    return key


@dataclass(frozen=True)
class H5Layout:
    """Key names and axis order of a dataset file.

    Attributes:
        x_key: key template of the one-hot sequences, e.g. ``"X_{split}"``.
        y_key: key template of the labels, e.g. ``"Y_{split}"``.
        channels_first: ``True`` for ``[N, 4, L]``, ``False`` for ``[N, L, 4]``.
        length: sequence length L.
        splits: the splits a complete file holds.
    """

    x_key: str
    y_key: str
    channels_first: bool
    length: int
    splits: tuple[str, ...] = SPLITS

    def x_name(self, split: str) -> str:
        return self.x_key.format(split=split)

    def y_name(self, split: str) -> str:
        return self.y_key.format(split=split)

    @property
    def channel_axis(self) -> int:
        return 1 if self.channels_first else 2

    def x_shape(self, n: int) -> tuple[int, int, int]:
        return (n, 4, self.length) if self.channels_first else (n, self.length, 4)

    def x_shape_text(self) -> str:
        return f"[N, 4, {self.length}]" if self.channels_first else f"[N, {self.length}, 4]"

    def describe(self) -> str:
        order = "channels-first" if self.channels_first else "channels-last"
        return f"{self.x_key} one-hot {self.x_shape_text()} {order}, {self.y_key} [N, C] float"

    def matches(self, keys: Iterable[str]) -> bool:
        """True if ``keys`` (a file's top-level keys) hold this layout's train sequences and labels."""
        keys = set(keys)
        return self.x_name("train") in keys and self.y_name("train") in keys


def open_h5(path: str | os.PathLike, mode: str = "r") -> h5py.File:
    """Open an HDF5 file without file locking; unreadable files become a :class:`D3UserError`."""
    path = Path(path)
    if mode == "r":
        if not path.exists():
            raise D3UserError(f"{path}: file not found")
        if path.is_dir():
            raise D3UserError(f"{path}: is a directory, not an HDF5 file")
    try:
        return h5py.File(path, mode, locking=False)
    except OSError as exc:
        detail = " ".join(str(exc).split())
        raise D3UserError(f"{path}: cannot be read as HDF5 (truncated or corrupt file? {detail}); delete it and "
                          "fetch, import or synthesize it again") from exc


def read_label_names(f: h5py.File) -> list[str] | None:
    """The ``label_names`` root attribute (JSON list or array of strings), or ``None``."""
    raw = f.attrs.get("label_names")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = [part.strip() for part in raw.split(",") if part.strip()]
    else:
        value = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(raw).ravel()]
    return [str(v) for v in value]


class H5Writer(AtomicWriter):
    """Write a dataset file atomically (:class:`d3core.atomic.AtomicWriter`): into a hidden temporary file beside
    ``<out>``, renamed to ``<out>`` only when :meth:`close` succeeds.

    Use as a context manager; an exception (or Ctrl-C) inside the block deletes the partial file::

        with H5Writer(out, layout, label_names, attrs={"d3_dataset": "deepstarr"}) as w:
            w.create_split("train", n)
            w.write_rows("train", 0, tokens, labels)

    Arrays are stored contiguously (no chunking, no compression): random row reads then touch only those rows.
    """

    def __init__(self, out: str | os.PathLike, layout: H5Layout, label_names: Sequence[str], *,
                 attrs: Mapping[str, Any] | None = None, x_dtype: str = "uint8", overwrite: bool = False):
        if x_dtype not in X_DTYPES:
            raise D3UserError(f"unknown one-hot dtype {x_dtype!r}; use one of: {', '.join(X_DTYPES)}")
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise D3UserError(f"{self.out}: already exists; choose another --out or pass --force to replace it")
        if self.out.is_dir():
            raise D3UserError(f"{self.out}: is a directory; --out must be a file path ending in .h5")
        self.layout = layout
        self.label_names = list(label_names)
        self.x_dtype = np.dtype(x_dtype)
        self._attrs = dict(attrs or {})
        self._output: H5Output | None = None
        self._file: h5py.File | None = None
        super().__init__(self.out)

    def _open_handles(self) -> None:
        self._output = H5Output(self.tmp)
        self._file = self._output.file
        self._file.attrs["label_names"] = json.dumps(self.label_names)
        for key, value in self._attrs.items():
            self._file.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)

    @property
    def file(self) -> h5py.File:
        assert self._file is not None, "writer is closed"
        return self._file

    def create_split(self, split: str, n: int) -> None:
        c = len(self.label_names)
        self.file.create_dataset(self.layout.x_name(split), shape=self.layout.x_shape(n), dtype=self.x_dtype)
        self.file.create_dataset(self.layout.y_name(split), shape=(n, c), dtype=np.float32)

    def write_rows(self, split: str, start: int, tokens: np.ndarray, labels: np.ndarray) -> None:
        """Write rows ``start:start+len(tokens)`` of a split created with :meth:`create_split`."""
        stop = start + len(tokens)
        self.file[self.layout.x_name(split)][start:stop] = one_hot(
            tokens, channels_first=self.layout.channels_first, dtype=self.x_dtype)
        self.file[self.layout.y_name(split)][start:stop] = np.asarray(labels, dtype=np.float32)
        self._output.raise_if_failed()

    def write_split(self, split: str, tokens: np.ndarray, labels: np.ndarray, chunk: int = 65536) -> None:
        self.create_split(split, len(tokens))
        for start in range(0, len(tokens), chunk):
            self.write_rows(split, start, tokens[start:start + chunk], labels[start:start + chunk])

    def close(self) -> Path:
        """Finish the file and move it into place."""
        return self.commit()

    def _finish(self) -> None:
        self._file = None
        self._output.close()

    def _discard(self) -> None:
        self._file = None
        if self._output is not None:
            self._output.discard()
