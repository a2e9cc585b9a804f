"""Oracles as a plugin kind: the dataset plugins register their trained oracles; files need no registration."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.errors import D3UserError
from d3core.evaluation.oracle import resolve_oracle
from d3core.plugins import make_plugin_manager


def test_the_dataset_plugins_register_their_oracles():
    registry = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"}).registry("oracles")
    assert {"deepstarr", "mpra"} <= set(registry.names())
    assert registry.get("deepstarr").metadata["label_names"] == ["dev", "hk"]


def test_a_dataset_oracle_is_the_file_d3_oracle_train_left_beside_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    with pytest.raises(D3UserError, match="no trained oracle at .*'d3 oracle train --dataset deepstarr'"):
        resolve_oracle("deepstarr", manager=manager)
    from d3_deepstarr.oracle import DeepSTARROracle

    from d3core.evaluation.oracle import save_oracle

    trained = tmp_path / "DeepSTARR_data.oracle.ckpt"  # what d3 oracle train --dataset deepstarr writes there
    save_oracle(trained, DeepSTARROracle(2, 249).eval(), {
        "dataset": "deepstarr", "network": "d3_deepstarr.oracle:DeepSTARROracle", "num_outputs": 2, "length": 249,
        "label_names": ["dev", "hk"]})
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
