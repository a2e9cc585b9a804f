"""Tests of the lentiMPRA dataset plugin: registration, layout facts, synthesis and lentiMPRA table import."""
import subprocess
import sys

import h5py
import numpy as np

import d3_mpra
from d3core.data import SequenceDataset
from d3core.data.encoding import decode
from d3core.plugins import make_plugin_manager
from d3_mpra.dataset import MPRA


def test_registration_metadata_and_factory():
    manager = make_plugin_manager(load_entrypoints=False, env={})
    manager.register(d3_mpra, "d3-mpra", version="0.1.0")
    entry = manager.get("datasets", "mpra")
    assert entry.metadata["length"] == 200 and entry.metadata["label_names"] == ["HepG2", "K562", "WTC11"]
    assert entry.load() is MPRA and issubclass(MPRA, SequenceDataset)


def test_top_level_module_does_not_import_torch():
    code = "import sys, d3_mpra; assert 'torch' not in sys.modules and 'h5py' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_layout_facts():
    ds = MPRA()
    assert (ds.length, ds.label_names, ds.adapters) == (200, ("HepG2", "K562", "WTC11"), (15, 15))
    assert ds.layout.x_name("valid") == "x_valid" and ds.layout.x_shape(2) == (2, 200, 4)
    assert ds.default_path().name == "mpra_data.h5"


def test_synthesized_file_has_the_original_layout(tmp_path):
    ds = MPRA()
    path = ds.synthesize(tmp_path / "s.h5", 64, seed=1)
    with h5py.File(path, "r", locking=False) as f:
        assert f["x_train"].shape == (64, 200, 4) and f["y_train"].shape == (64, 3)
        x = f["x_test"][:]
    tokens, labels = ds.open_split(path, "test")[0]
    assert tokens.tolist() == np.argmax(x[0], axis=1).tolist() and labels.shape == (3,)


def test_lentimpra_table_with_two_activity_columns(tmp_path):
    rng = np.random.default_rng(0)
    elements = decode(rng.integers(0, 4, size=(30, 200)))
    left, right = "AGGACCGGATCAACT", "CATTGCGTGAACCGA"  # the lentiMPRA adapters
    table = tmp_path / "lenti.tsv"
    table.write_text("seq_id\tseq\tHepG2_log2\tK562_log2\n"
                     + "".join(f"e{i}\t{left}{s}{right}\t{i}\t{-i}\n" for i, s in enumerate(elements)))
    ds = MPRA()
    result = ds.import_files(tmp_path / "m.h5", tables=[str(table)], split_seed=0)
    assert result.label_names == ["HepG2", "K562"]
    seqs = []
    for split in ("train", "valid", "test"):
        item = ds.open_split(tmp_path / "m.h5", split)
        t, y = item.read_batch(range(len(item)))
        seqs += decode(t.numpy())
        assert (y[:, 0] == -y[:, 1]).all()
    assert sorted(seqs) == sorted(elements)
