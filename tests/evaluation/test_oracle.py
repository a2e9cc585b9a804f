"""Oracles: the plugins' networks (spec §8.2), their registration, Lightning training and the oracle file."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from d3core.errors import D3UserError
from d3core.evaluation.oracle import default_oracle_path, load_oracle
from d3core.evaluation.oracle_networks import oracle_network_class


def test_deepstarr_oracle_architecture():
    from d3_deepstarr.oracle import DeepSTARROracle

    net = DeepSTARROracle().eval()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["conv1_filters"] == (256, 4, 7) and shapes["conv4_filters"] == (120, 60, 3)
    assert shapes["fc5.weight"] == (256, 1800) and shapes["fc7.weight"] == (2, 256)
    assert not any(k.startswith("conv") and k.endswith("bias") for k in shapes)  # bias-free convolutions
    assert net(torch.zeros(3, 4, 249)).shape == (3, 2) and net.embed(torch.zeros(3, 4, 249)).shape == (3, 256)


def test_mpra_oracle_architecture():
    from d3_mpra.oracle import MPRAOracle

    net = MPRAOracle().eval()
    assert net(torch.zeros(2, 4, 200)).shape == (2, 3)
    assert net.fc4.in_features == 1536  # 256 channels x 6 positions
    assert net.embed(torch.zeros(2, 4, 200)).shape == (2, 256)
    assert MPRAOracle(num_outputs=1).eval()(torch.zeros(2, 4, 200)).shape == (2, 1)


def test_datasets_register_their_oracles():
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    for name, cls_name in (("deepstarr", "DeepSTARROracle"), ("mpra", "MPRAOracle")):
        entry = manager.get("datasets", name)
        assert manager.get("oracles", name).metadata["network"].endswith(cls_name)  # derived from the class
        assert oracle_network_class(entry.load()()).__name__ == cls_name

    class NoOracle:
        name = "plain"

    with pytest.raises(D3UserError, match="registers no oracle"):
        oracle_network_class(NoOracle())


def test_oracle_train_cli_file_and_info(d3_cli, tiny_data, tiny_oracle):
    assert tiny_oracle == default_oracle_path(tiny_data) and tiny_oracle.is_file()
    oracle = load_oracle(tiny_oracle)
    assert oracle.dataset == "deepstarr" and oracle.label_names == ["dev", "hk"] and oracle.length == 249
    metrics = oracle.info["metrics"]
    assert set(metrics["test_pearson"]) == {"dev", "hk"} and set(metrics["test_spearman"]) == {"dev", "hk"}
    assert metrics["epochs"] <= 2 and metrics["test_rows"] == 10
    prediction = oracle.predict(np.zeros((5, 249), np.uint8))
    assert prediction.shape == (5, 2) and prediction.dtype == np.float32
    torch.load(tiny_oracle, weights_only=True)  # plain tensors and containers only
    info = d3_cli("oracle", "info", tiny_oracle)
    assert info.exit_code == 0 and "test Pearson" in info.output and "dev" in info.output
    again = d3_cli("oracle", "train", "--dataset", "deepstarr", "--data", tiny_data)
    assert again.exit_code == 2 and "already exists" in again.output


def test_oracle_errors(d3_cli, tmp_path, tiny_oracle):
    with pytest.raises(D3UserError, match="no such oracle file"):
        load_oracle(tmp_path / "none.ckpt")
    with pytest.raises(D3UserError, match="scores 249 bp"):
        load_oracle(tiny_oracle).predict(np.zeros((2, 100), np.uint8))
    not_oracle = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}}, not_oracle)
    result = d3_cli("oracle", "info", not_oracle)
    assert result.exit_code == 2 and "fits no installed oracle network" in result.output
    torch.save({"weights": {}}, not_oracle)
    result = d3_cli("oracle", "info", not_oracle)
    assert result.exit_code == 2 and "not an oracle file" in result.output


def test_evaluate_finds_an_oracle_by_registered_name_as_design_does(tmp_path):
    """One resolver: ``find_oracle`` (d3 evaluate) takes what ``resolve_oracle`` (d3 design) takes: a file, a
    registered oracle name; a registered oracle that is no oracle file is refused in one line."""
    from pathlib import Path

    from d3core.api import hookimpl
    from d3core.evaluation.oracle import find_oracle
    from d3core.plugins import make_plugin_manager

    fixture = Path(__file__).parents[1] / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"

    class Registers:
        @hookimpl
        def register_oracles(self, register):
            register("lab-oracle", lambda device: load_oracle(fixture, device))
            register("bare", lambda device: type("Bare", (), {"label_names": ["dev"], "length": 249,
                                                             "predict": lambda self, x: x})())

    manager = make_plugin_manager(env={})
    manager.register(Registers(), "d3-lab-oracles", version="0")
    deepstarr = manager.dataset("deepstarr")
    by_name = find_oracle(deepstarr, None, "lab-oracle", manager=manager)
    assert by_name.label_names == ["dev", "hk"] and by_name.path == fixture
    assert find_oracle(deepstarr, None, str(fixture), manager=manager).path == fixture
    with pytest.raises(D3UserError, match="--oracle bare: a registered oracle of another kind"):
        find_oracle(deepstarr, None, "bare", manager=manager)
    with pytest.raises(D3UserError, match="no such oracle file and no registered oracle of that name"):
        find_oracle(deepstarr, None, str(tmp_path / "missing.ckpt"), manager=manager)


def test_sp_mse_takes_an_oracle_by_name_as_the_commands_do(tiny_data, tmp_path, monkeypatch, request):
    """The sp_mse callback's ``sp_mse.oracle`` goes through the one resolver: a dataset's name is its trained oracle,
    an unknown name is the resolver's one line naming the key."""
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.sp_mse import SPMSECallback

    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    with pytest.raises(D3UserError, match=r"sp_mse.oracle nosuch: no such oracle file .*registered: .*deepstarr"):
        SPMSECallback(dataset=DeepSTARR(), data_path=tiny_data, oracle="nosuch")
    trained = request.getfixturevalue("trained_deepstarr_oracle")
    callback = SPMSECallback(dataset=DeepSTARR(), data_path=tiny_data, oracle="deepstarr", num_sequences=4)
    assert callback.oracle.path == trained and callback.reference.shape == (4, 2)
