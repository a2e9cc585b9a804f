"""A lazily read HDF5 split: ``(tokens LongTensor[L], labels FloatTensor[C])`` per row.

Only the rows a batch asks for are read (one sorted HDF5 selection per batch through ``__getitems__``, which
``torch.utils.data.DataLoader`` calls with the whole batch of indices), so memory does not grow with the file. The HDF5
handle is opened on first use in each process: a DataLoader worker (fork or spawn) or a DDP rank opens its own, and
pickling the dataset drops the handle.
"""
from __future__ import annotations

import os
from collections.abc import Sequence as SequenceABC
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from d3core.data.encoding import tokens_from_one_hot
from d3core.data.layout import MEASURED_ATTR, H5Layout


class RowBatch(SequenceABC):
    """The rows of one batch, as ``__getitems__`` returns them: a sequence of ``(tokens, labels)`` pairs that also
    keeps the stacked tensors, so :func:`collate_rows` hands them over without re-stacking."""

    def __init__(self, tokens: torch.Tensor, labels: torch.Tensor):
        self.tokens = tokens
        self.labels = labels

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [(self.tokens[j], self.labels[j]) for j in range(*i.indices(len(self)))]
        return self.tokens[i], self.labels[i]


def collate_rows(batch: Any):
    """``collate_fn`` for :class:`H5SequenceDataset`: ``(tokens [B, L], labels [B, C])`` without copying a
    :class:`RowBatch`; anything else goes to torch's ``default_collate`` (same result, slower)."""
    if isinstance(batch, RowBatch):
        return batch.tokens, batch.labels
    return default_collate(batch)


class H5SequenceDataset(Dataset):
    """One split of a dataset file, read lazily.

    Args:
        path: the HDF5 file.
        layout: its :class:`~d3core.data.layout.H5Layout`.
        split: ``train``, ``valid`` or ``test``.
        label_names: names of the label columns (``len == C``).
        seed: seed of the per-row replacement of ``N`` positions (all-zero / all-0.25 one-hot columns) by random
            bases; the base depends only on (seed, row), so it is the same in every epoch and worker.

    Items are ``(tokens int64 [L], labels float32 [C])``; ``__getitems__(indices)`` returns the items of a batch
    (read in one sorted selection) as a :class:`RowBatch`, which torch's default collate function stacks to
    ``[B, L]`` and ``[B, C]``; ``DataLoader(..., collate_fn=H5SequenceDataset.collate_fn)`` skips that copy.
    """

    collate_fn = staticmethod(collate_rows)

    def __init__(self, path: str | os.PathLike, layout: H5Layout, split: str, label_names: Sequence[str], *,
                 seed: int = 0):
        self.path = Path(path)
        self.layout = layout
        self.split = split
        self.label_names = list(label_names)
        self.seed = seed
        self.x_key = layout.x_name(split)
        self.y_key = layout.y_name(split)
        with h5py.File(self.path, "r", locking=False) as f:
            self._n = int(f[self.x_key].shape[0])
            #: the file counts its measured rows per label (:data:`~d3core.data.layout.MEASURED_ATTR`): NaN there
            #: means "not measured"
            self.counts_missing_labels = MEASURED_ATTR in f.attrs
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._x: h5py.Dataset | None = None
        self._y: h5py.Dataset | None = None

    # -- handle management ------------------------------------------------------------------------------------------
    def _handle(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._pid != pid:  # first use, or a forked worker inheriting the parent's handle
            self._file = h5py.File(self.path, "r", locking=False)
            self._pid = pid
            self._x = self._file[self.x_key]
            self._y = self._file[self.y_key]
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = self._x = self._y = None
        self._pid = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_file=None, _pid=None, _x=None, _y=None)
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- reading ----------------------------------------------------------------------------------------------------
    def check_finite(self, labels: np.ndarray, *, first_row: int = 0, missing: bool = False) -> None:
        """Refuse a NaN or infinite value in ``labels [n, C]`` read from rows ``first_row ...`` of this split (what
        training's file check refuses, for readers that skip it: ``--labels-from``, ``d3 score --split``);
        ``missing``: NaN (a label not measured) is allowed in a file that counts its measured rows (as
        ``d3 data import`` writes them), for a caller that handles missing labels."""
        from d3core.data.arrays import check_finite_labels

        check_finite_labels(f"{self.path}: '{self.y_key}'", labels, self.label_names, first_row=first_row,
                            missing=missing and self.counts_missing_labels,
                            fix=f"drop or fix that row ('d3 data info {self.path}' checks the whole file)")

    def __len__(self) -> int:
        return self._n

    def read_batch(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``indices`` (any order, repeats allowed) -> ``(tokens [B, L] int64, labels [B, C] float32)``."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            raise IndexError(f"index out of range for split {self.split!r} with {self._n} rows")
        idx = np.where(idx < 0, idx + self._n, idx)
        if idx.size == 0:
            return (torch.zeros((0, self.layout.length), dtype=torch.int64),
                    torch.zeros((0, len(self.label_names)), dtype=torch.float32))
        uniq, inverse = np.unique(idx, return_inverse=True)
        self._handle()
        if uniq.size and uniq[-1] - uniq[0] + 1 == uniq.size:  # a contiguous run: one slice read
            sel: slice | np.ndarray = slice(int(uniq[0]), int(uniq[-1]) + 1)
        else:
            sel = uniq
        x = self._x[sel]
        y = np.asarray(self._y[sel], dtype=np.float32)
        tokens, unknown = tokens_from_one_hot(x, channel_axis=self.layout.channel_axis)
        if unknown.any():
            for r in np.nonzero(unknown.any(axis=1))[0]:
                rng = np.random.default_rng([self.seed, int(uniq[r])])
                mask = unknown[r]
                tokens[r, mask] = rng.integers(0, 4, size=int(mask.sum()))
        tokens_t = torch.from_numpy(tokens[inverse])
        labels_t = torch.from_numpy(y[inverse])
        return tokens_t, labels_t

    def __getitems__(self, indices: Sequence[int]) -> RowBatch:
        return RowBatch(*self.read_batch(indices))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, labels = self.read_batch([int(index)])
        return tokens[0], labels[0]

    def __repr__(self) -> str:
        return (f"H5SequenceDataset({str(self.path)!r}, split={self.split!r}, rows={self._n}, "
                f"length={self.layout.length}, labels={self.label_names})")
