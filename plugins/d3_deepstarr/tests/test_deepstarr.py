"""Tests of the DeepSTARR dataset plugin: registration, layout facts, synthesis and Stark-lab import round trips."""
import subprocess
import sys

import h5py
import numpy as np
import torch

import d3_deepstarr
from d3core.data import SequenceDataset
from d3core.data.encoding import decode
from d3core.plugins import make_plugin_manager
from d3_deepstarr.dataset import DeepSTARR


def test_registration_metadata_and_factory():
    manager = make_plugin_manager(load_entrypoints=False, env={})
    manager.register(d3_deepstarr, "d3-deepstarr", version="0.1.0")
    entry = manager.get("datasets", "DeepSTARR")  # names are case-insensitive
    assert entry.name == "deepstarr" and entry.factory == "d3_deepstarr.dataset:DeepSTARR"
    assert entry.metadata["length"] == 249 and entry.metadata["label_names"] == ["dev", "hk"]
    assert entry.metadata["label_mode"] == "global"
    assert entry.load() is DeepSTARR and issubclass(DeepSTARR, SequenceDataset)


def test_top_level_module_does_not_import_torch():
    code = "import sys, d3_deepstarr; assert 'torch' not in sys.modules and 'h5py' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_layout_facts(monkeypatch, tmp_path):
    ds = DeepSTARR()
    assert (ds.name, ds.length, ds.label_names, ds.label_mode) == ("deepstarr", 249, ("dev", "hk"), "global")
    assert ds.layout.x_name("train") == "X_train" and ds.layout.y_name("test") == "Y_test"
    assert ds.layout.x_shape(5) == (5, 4, 249)
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    assert ds.default_path() == tmp_path / "DeepSTARR_data.h5"
    assert "zenodo.org/records/7265991" in ds.url
    assert DeepSTARR.default_config == {"data": {"path": None}, "model": {"length": 249}}


def test_synthesized_file_has_the_original_layout(tmp_path):
    ds = DeepSTARR()
    path = ds.synthesize(tmp_path / "s.h5", 64, seed=0)
    with h5py.File(path, "r", locking=False) as f:
        assert {k for k in f.keys() if k != "d3_synth"} == {"X_train", "Y_train", "X_valid", "Y_valid", "X_test",
                                                            "Y_test"}
        x = f["X_train"][:]
        assert x.shape == (64, 4, 249) and (x.sum(axis=1) == 1).all()
        assert f["Y_train"].shape == (64, 2)
    train = ds.open_split(path, "train")
    loader = torch.utils.data.DataLoader(train, batch_size=32)
    tokens, labels = next(iter(loader))
    assert tokens.shape == (32, 249) and labels.shape == (32, 2)
    assert tokens.tolist() == np.argmax(x[:32], axis=1).tolist()  # token = one-hot channel (D3's argmax)


def test_stark_lab_import(tmp_path):
    rng = np.random.default_rng(0)
    args = {"fasta": [], "activity": []}
    for split, tag, n in (("train", "Train", 12), ("valid", "Val", 3), ("test", "Test", 3)):
        seqs = decode(rng.integers(0, 4, size=(n, 249)))
        (tmp_path / f"Sequences_{tag}.fa").write_text("".join(f">seq{i}\n{s}\n" for i, s in enumerate(seqs)))
        (tmp_path / f"Sequences_activity_{tag}.txt").write_text(
            "Dev_log2_enrichment\tHk_log2_enrichment\n" + "".join(f"{i}\t{-i}\n" for i in range(n)))
        args["fasta"].append(f"{split}={tmp_path / f'Sequences_{tag}.fa'}")
        args["activity"].append(f"{split}={tmp_path / f'Sequences_activity_{tag}.txt'}")
    ds = DeepSTARR()
    result = ds.import_files(tmp_path / "out.h5", **args)
    assert result.label_names == ["dev", "hk"]
    summary = ds.validate(tmp_path / "out.h5", full=True)
    assert [s.rows for s in summary.splits.values()] == [12, 3, 3]
    assert summary.splits["train"].label_max == [11.0, 0.0]
