"""Oracles as a plugin kind: a dataset's declared oracle network registers its trained oracle; files need no
registration; every command resolves an oracle name the same way."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from d3core.errors import D3UserError
from d3core.evaluation.oracle import resolve_oracle
from d3core.plugins import make_plugin_manager


def test_the_dataset_plugins_register_their_oracles():
    registry = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"}).registry("oracles")
    assert {"deepstarr", "mpra"} <= set(registry.names())
    assert registry.get("deepstarr").metadata["label_names"] == ["dev", "hk"]


def test_a_dataset_oracle_is_the_file_d3_oracle_train_left_beside_the_data(tmp_path, monkeypatch, request):
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    with pytest.raises(D3UserError, match="no trained oracle at .*'d3 oracle train --dataset deepstarr'"):
        resolve_oracle("deepstarr", manager=manager)
    trained = request.getfixturevalue("trained_deepstarr_oracle")  # what d3 oracle train --dataset deepstarr writes
    oracle = resolve_oracle("deepstarr", manager=manager)
    assert oracle.label_names == ["dev", "hk"] and oracle.length == 249 and oracle.path == trained
    same = resolve_oracle(trained, manager=manager)
    tokens = np.random.default_rng(0).integers(0, 4, size=(4, 249))
    np.testing.assert_allclose(oracle.predict(tokens), same.predict(tokens), rtol=1e-6)


def test_an_unknown_oracle_lists_the_registered_ones(tmp_path):
    with pytest.raises(D3UserError, match=r"no registered oracle of that name \(registered: .*deepstarr"):
        resolve_oracle(tmp_path / "nope.ckpt", manager=make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"}))


def test_oracles_trained_with_other_seeds_and_a_fraction_see_other_rows():
    from d3core.evaluation.oracle_training import training_rows

    assert training_rows(10) == list(range(10))
    assert training_rows(10, limit=4) == [0, 1, 2, 3]
    first, second = training_rows(1000, fraction=0.5, seed=1), training_rows(1000, fraction=0.5, seed=2)
    assert len(first) == len(second) == 500 and first == sorted(first)
    assert first == training_rows(1000, fraction=0.5, seed=1)
    assert 150 < len(set(first) & set(second)) < 350  # independent halves overlap by about a quarter


def test_evaluate_takes_a_dataset_oracle_by_name_as_design_does(d3_cli, trained_checkpoint, trained_deepstarr_oracle,
                                                              tmp_path):
    """One resolver: 'd3 evaluate --oracle deepstarr' and 'd3 design --oracle deepstarr' both score with the oracle
    d3 oracle train left beside the dataset's default file; an unknown name is the same one line in both, listing
    the registered and the published oracles."""
    ckpt, data = trained_checkpoint
    samples = tmp_path / "designs.npz"
    design = d3_cli("design", ckpt, "--oracle", "deepstarr", "--objective", "dev", "--labels", "dev=1,hk=0",
                    "--num", "3", "--steps", "2", "--likelihood-samples", "0", "--no-progress", "-o", samples)
    assert design.exit_code == 0, design.output
    evaluate = d3_cli("evaluate", samples, "--dataset", "deepstarr", "--data", data, "--oracle", "deepstarr",
                      "--out", tmp_path / "eval", "--device", "cpu", "--no-discriminator", "--kmer-ks", "3",
                      "--no-attributions", "--no-motifs", "--no-progress", "--no-cache")
    assert evaluate.exit_code == 0, evaluate.output
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["inputs"]["oracle"] == str(trained_deepstarr_oracle)
    unknown = [d3_cli("evaluate", samples, "--dataset", "deepstarr", "--data", data, "--oracle", "nosuch",
                      "--out", tmp_path / "eval2"),
               d3_cli("design", ckpt, "--oracle", "nosuch", "--objective", "dev", "--labels", "dev=1,hk=0",
                      "-o", tmp_path / "never.npz")]
    lines = [[line for line in r.output.splitlines() if "--oracle nosuch" in line] for r in unknown]
    assert [r.exit_code for r in unknown] == [2, 2] and lines[0] == lines[1] and len(lines[0]) == 1
    assert re.search(r"registered: .*deepstarr.*mpra.*; published: ", lines[0][0]), lines[0]


def test_a_dataset_declares_its_oracle_once_and_the_core_registers_it():
    """No dataset plugin has a register_oracles of its own: the oracle entry comes from the dataset class's
    ``oracle`` attribute, and a plugin's own oracle of that name comes first."""
    from d3core.api import SequenceDataset, hookimpl

    class Declares(SequenceDataset):
        name, length, label_names, filename = "lab-data", 12, ("a",), "lab.h5"
        oracle = "d3core.testing.network:SmallOracle"

    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register("lab-data", Declares)
            register("lab-taken", Declares)

        @hookimpl
        def register_oracles(self, register):
            register("lab-taken", "d3core.testing.network:SmallOracle", description="the plugin's own")

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    manager.register(Plugin(), "d3-lab", version="0")
    entry = manager.get("oracles", "lab-data")
    assert entry.metadata == {"dataset": "lab-data", "network": Declares.oracle, "label_names": ["a"], "length": 12,
                              "differentiable": True}
    assert entry.provider.distribution == "d3-lab"
    assert manager.get("oracles", "lab-taken").description == "the plugin's own"
    assert manager.dataset_oracle_networks()["lab-data"] == Declares.oracle
    for plugin in ("d3_deepstarr", "d3_mpra"):
        assert "register_oracles" not in manager.records[plugin.replace("_", "-")].hooks


def test_oracle_info_takes_a_dataset_oracle_by_name(d3_cli, tmp_path, monkeypatch, request):
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    result = d3_cli("oracle", "info", "deepstarr")
    assert result.exit_code == 2 and "d3 oracle train --dataset deepstarr" in result.output
    trained = request.getfixturevalue("trained_deepstarr_oracle")
    result = d3_cli("oracle", "info", "deepstarr")
    assert result.exit_code == 0 and result.output.startswith(f"{trained}: d3 oracle file, oracle for deepstarr")
