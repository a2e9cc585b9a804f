"""Every bad input gives its clear error: from the Python API (D3UserError) and from the CLI (exit 2, no traceback)."""
from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from d3core.errors import D3UserError

SPLITS = ("train", "valid", "test")


def good_splits(h, n=(12, 4, 4), length=249, c=2, channels_first=True, dtype=np.float32):
    out = {}
    for i, (split, rows) in enumerate(zip(SPLITS, n)):
        _, x, y = h.random_split_arrays(rows, length, c, channels_first=channels_first, seed=i, dtype=dtype)
        out[split] = (x, y)
    return out


def test_good_files_of_both_layouts_validate(h, tmp_path, deepstarr, mpra, d3):
    ds_path = h.write_h5(tmp_path / "ds.h5", good_splits(h))
    summary = deepstarr.validate(ds_path, full=True)
    assert [s.rows for s in summary.splits.values()] == [12, 4, 4]
    assert summary.label_names == ["dev", "hk"] and not summary.label_names_from_file
    mpra_path = h.write_h5(tmp_path / "m.h5", good_splits(h, length=200, c=3, channels_first=False, dtype=np.uint8),
                         x_key="x_{split}", y_key="y_{split}")
    assert mpra.validate(mpra_path).splits["train"].x_shape == [12, 200, 4]
    for path, name in ((ds_path, "deepstarr"), (mpra_path, "mpra")):  # layout detected from the keys
        result = d3("data", "info", str(path))
        assert result.exit_code == 0, result.output
        assert f"dataset: {name}" in result.output and "valid: yes" in result.output


def _bad(h, name, tmp_path):
    """(file, expected message fragments) for one kind of bad input."""
    splits = good_splits(h)
    path = tmp_path / f"{name}.h5"
    if name == "missing_key":
        del splits["valid"]
        x, _ = good_splits(h)["valid"]
        h.write_h5(path, splits)
        with h5py.File(path, "a", locking=False) as f:
            f["X_valid"] = x
        return path, ["'Y_valid'", "missing key"]
    if name == "missing_split":
        del splits["test"]
        return h.write_h5(path, splits), ["'X_test'", "'Y_test'"]
    if name == "wrong_length":
        return h.write_h5(path, good_splits(h, length=200)), ["200 bp", "249 bp", "X_train"]
    if name == "channels_swapped":
        return h.write_h5(path, good_splits(h, channels_first=False)), ["channels-last", "[N, 4, 249]", "X_train"]
    if name == "wrong_channels":
        x, y = splits["train"]
        splits["train"] = (np.concatenate([x, x[:, :1]], axis=1), y)
        return h.write_h5(path, splits), ["4 channels", "X_train"]
    if name == "not_3d":
        x, y = splits["valid"]
        splits["valid"] = (x.reshape(len(x), -1), y)
        return h.write_h5(path, splits), ["wrong one-hot shape", "X_valid"]
    if name == "one_hot_values":
        x, y = splits["train"]
        x = x.copy()
        x[3, :, 10] = [0.5, 0.5, 0, 0]
        splits["train"] = (x, y)
        return h.write_h5(path, splits), ["X_train' row 3 position 10", "not a one-hot"]
    if name == "two_ones":
        x, y = splits["test"]
        x = x.copy()
        x[1, :, 7] = [1, 1, 0, 0]
        splits["test"] = (x, y)
        return h.write_h5(path, splits), ["X_test' row 1 position 7"]
    if name in ("nan_label", "inf_label"):
        x, y = splits["train"]
        y = y.copy()
        y[5, 1] = np.nan if name == "nan_label" else np.inf
        splits["train"] = (x, y)
        return h.write_h5(path, splits), ["Y_train' row 5 column 1 ('hk')", "finite"]
    if name == "row_mismatch":
        x, y = splits["valid"]
        splits["valid"] = (x, y[:-1])
        return h.write_h5(path, splits), ["'X_valid' has 4 rows but 'Y_valid' has 3"]
    if name == "empty_split":
        x, y = splits["test"]
        splits["test"] = (x[:0], y[:0])
        return h.write_h5(path, splits), ["split 'test' is empty"]
    if name == "label_count":
        x, y = splits["train"]
        splits = {s: (x, np.c_[y, y[:, :1]]) for s, (x, y) in splits.items()}
        return h.write_h5(path, splits), ["3 label column(s)", "dev, hk"]
    if name == "truncated":
        full = h.write_h5(tmp_path / "full.h5", splits)
        data = full.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
        return path, ["truncated"]
    if name == "corrupt":
        path.write_bytes(b"this is not an HDF5 file\n" * 100)
        return path, ["cannot be read as HDF5"]
    if name == "corrupt_chunk":
        x, y = splits["train"]
        h.write_h5(path, splits, compression="gzip", chunks=(4, 4, 249))
        with h5py.File(path, "r", locking=False) as f:
            info = f["X_train"].id.get_chunk_info(1)
        raw = bytearray(path.read_bytes())
        raw[info.byte_offset: info.byte_offset + info.size] = b"\xff" * info.size
        path.write_bytes(bytes(raw))
        return path, ["X_train", "cannot be read"]
    raise AssertionError(name)


BAD = ["missing_key", "missing_split", "wrong_length", "channels_swapped", "wrong_channels", "not_3d",
       "one_hot_values", "two_ones", "nan_label", "inf_label", "row_mismatch", "empty_split", "label_count",
       "truncated", "corrupt", "corrupt_chunk"]


@pytest.mark.parametrize("name", BAD)
def test_bad_file_api_and_cli(h, name, tmp_path, deepstarr, d3):
    path, fragments = _bad(h, name, tmp_path)
    with pytest.raises(D3UserError) as info:
        deepstarr.validate(path, full=True)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    h.assert_user_error(d3("data", "info", str(path), "--dataset", "deepstarr", "--full"), str(path), *fragments)


def test_sampled_check_reads_only_part_but_catches_the_ends(h, tmp_path, deepstarr):
    splits = good_splits(h, n=(2000, 4, 4))
    x, y = splits["train"]
    x = x.copy()
    x[1999, :, 0] = [2, 0, 0, 0]
    splits["train"] = (x, y)
    path = h.write_h5(tmp_path / "big.h5", splits)
    with pytest.raises(D3UserError, match="row 1999"):
        deepstarr.validate(path)
    x[1999, :, 0] = [1, 0, 0, 0]
    x[1000 - 400, :, 0] = [2, 0, 0, 0]  # outside the sampled blocks: only --full sees it
    splits["train"] = (x, y)
    h.write_h5(path, splits)
    assert deepstarr.validate(path).splits["train"].checked_rows == 3 * 256
    with pytest.raises(D3UserError, match="row 600"):
        deepstarr.validate(path, full=True)


def test_n_positions_are_counted_not_errors(h, tmp_path, deepstarr):
    splits = good_splits(h)
    x, y = splits["train"]
    x = x.copy()
    x[2, :, 5] = 0  # N as the DeepSTARR notebooks write it
    x[2, :, 6] = 0.25  # N as uniform
    splits["train"] = (x, y)
    summary = deepstarr.validate(h.write_h5(tmp_path / "n.h5", splits))
    assert summary.splits["train"].unknown_positions == 2


def test_missing_file_says_how_to_get_data(h, tmp_path, deepstarr, d3, monkeypatch):
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(D3UserError) as info:
        deepstarr.validate()
    message = str(info.value)
    assert str(tmp_path / "cache" / "DeepSTARR_data.h5") in message
    for hint in ("d3 data fetch deepstarr", "d3 data import deepstarr", "d3 data synth deepstarr"):
        assert hint in message
    h.assert_user_error(d3("data", "info", str(tmp_path / "nope.h5")), "nope.h5", "not found")


def test_info_cannot_guess_layout(h, tmp_path, d3):
    path = h.write_h5(tmp_path / "odd.h5", good_splits(h), x_key="seqs_{split}", y_key="act_{split}")
    h.assert_user_error(d3("data", "info", str(path)), "no installed dataset layout matches", "--dataset")
    path2 = h.write_h5(tmp_path / "m.h5", good_splits(h, length=200, c=3, channels_first=False),
                     x_key="x_{split}", y_key="y_{split}")
    h.assert_user_error(d3("data", "info", str(path2), "--dataset", "deepstarr"), "do not follow the deepstarr layout")


def test_file_label_names_attribute_wins(h, tmp_path, deepstarr):
    splits = {s: (x, y[:, :1]) for s, (x, y) in good_splits(h).items()}
    path = h.write_h5(tmp_path / "one.h5", splits, attrs={"label_names": '["dev"]'})
    assert deepstarr.validate(path).label_names == ["dev"]
    assert deepstarr.label_names_in(path) == ["dev"]
    copy = shutil.copy(path, tmp_path / "copy.h5")
    with h5py.File(copy, "a", locking=False) as f:
        del f.attrs["label_names"]
    with pytest.raises(D3UserError, match="1 label column"):
        deepstarr.validate(copy)
