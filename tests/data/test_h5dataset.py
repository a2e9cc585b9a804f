"""The lazily read split: right rows, both layouts, batches via __getitems__, DataLoader workers, N positions."""
from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from d3core.data.encoding import one_hot
from d3core.errors import D3UserError


def _file(h, tmp_path, n=50, *, length=249, c=2, channels_first=True, dtype=np.float32, name="f.h5",
          x_key="X_{split}", y_key="Y_{split}"):
    arrays, splits = {}, {}
    for i, split in enumerate(("train", "valid", "test")):
        tokens, x, y = h.random_split_arrays(n if split == "train" else 5, length, c, channels_first=channels_first,
                                             seed=i, dtype=dtype)
        arrays[split] = (tokens, y)
        splits[split] = (x, y)
    return h.write_h5(tmp_path / name, splits, x_key=x_key, y_key=y_key), arrays


def test_items_and_batches_match_the_file(h, tmp_path, deepstarr):
    path, arrays = _file(h, tmp_path)
    tokens, labels = arrays["train"]
    train = deepstarr.open_split(path, "train")
    assert len(train) == 50
    x, y = train[7]
    assert x.dtype == torch.int64 and x.shape == (249,) and y.dtype == torch.float32 and y.shape == (2,)
    assert x.tolist() == tokens[7].tolist() and np.allclose(y.numpy(), labels[7])
    idx = [9, 3, 3, 40, 0, -1]  # any order, repeats, negative index
    items = train.__getitems__(idx)
    assert [t.tolist() for t, _ in items] == [tokens[i].tolist() for i in idx]
    bt, by = train.read_batch(range(10, 20))  # contiguous run: one slice read
    assert bt.shape == (10, 249) and by.shape == (10, 2) and bt.tolist() == tokens[10:20].tolist()
    with pytest.raises(IndexError):
        train[50]
    assert train.read_batch([])[0].shape == (0, 249)


def test_channels_last_uint8_layout(h, tmp_path, mpra):
    path, arrays = _file(h, tmp_path, length=200, c=3, channels_first=False, dtype=np.uint8, x_key="x_{split}",
                         y_key="y_{split}")
    valid = mpra.open_split(path, "val")  # split aliases accepted
    assert valid.split == "valid" and len(valid) == 5
    t, y = valid[4]
    assert t.tolist() == arrays["valid"][0][4].tolist() and y.shape == (3,)
    assert valid.label_names == ["HepG2", "K562", "WTC11"]


def test_dataloader_with_workers_and_default_collate(h, tmp_path, deepstarr):
    path, arrays = _file(h, tmp_path, n=96)
    train = deepstarr.open_split(path, "train")
    train[0]  # a handle opened in the parent must not leak into the workers
    loader = DataLoader(train, batch_size=16, shuffle=True, num_workers=2,
                        generator=torch.Generator().manual_seed(0))
    seen = []
    for tokens, labels in loader:
        assert tokens.shape == (16, 249) and tokens.dtype == torch.int64
        assert labels.shape == (16, 2) and labels.dtype == torch.float32
        seen.append(tokens)
    got = torch.cat(seen)
    want = torch.as_tensor(arrays["train"][0])
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want.tolist()))


def test_collate_fn_gives_the_same_batches_without_restacking(h, tmp_path, deepstarr):
    path, _ = _file(h, tmp_path, n=40)
    train = deepstarr.open_split(path, "train")
    fast = DataLoader(train, batch_size=16, shuffle=True, collate_fn=train.collate_fn,
                      generator=torch.Generator().manual_seed(1))
    slow = DataLoader(train, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))
    for (ft, fl), (st, sl) in zip(fast, slow):
        assert torch.equal(ft, st) and torch.equal(fl, sl)
    assert train.collate_fn([train[0], train[1]])[0].shape == (2, 249)  # plain lists still work


def test_pickle_drops_the_handle(h, tmp_path, deepstarr):
    path, _ = _file(h, tmp_path)
    train = deepstarr.open_split(path, "train")
    train[0]
    assert train._file is not None
    clone = pickle.loads(pickle.dumps(train))
    assert clone._file is None
    assert clone[3][0].tolist() == train[3][0].tolist()
    train.close()


def test_n_positions_become_fixed_random_bases(h, tmp_path, deepstarr):
    tokens = np.zeros((6, 249), dtype=np.int64)
    x = one_hot(tokens, channels_first=True, dtype=np.float32)
    x[2, :, 10:20] = 0.0  # ten N positions in row 2
    y = np.zeros((6, 2), np.float32)
    path = h.write_h5(tmp_path / "n.h5", {s: (x, y) for s in ("train", "valid", "test")})
    a = deepstarr.open_split(path, "train", seed=1)
    first = a[2][0][10:20].tolist()
    assert a.read_batch([5, 2])[0][1, 10:20].tolist() == first  # same base whatever the batch
    assert deepstarr.open_split(path, "train", seed=1)[2][0][10:20].tolist() == first
    assert len(set(first)) > 1  # random, not the argmax 'A'
    assert a[1][0].tolist() == [0] * 249


def test_open_split_errors(h, tmp_path, deepstarr):
    path, _ = _file(h, tmp_path)
    with h5py.File(path, "a", locking=False) as f:
        del f["X_test"]
    with pytest.raises(D3UserError, match="missing key 'X_test' for split 'test'"):
        deepstarr.open_split(path, "test")
    with pytest.raises(D3UserError, match="unknown split 'dev'"):
        deepstarr.open_split(path, "dev")
    with pytest.raises(D3UserError, match="d3 data fetch deepstarr"):
        deepstarr.open_split(tmp_path / "absent.h5", "train")
