"""d3core.testing: the pytest plugin for plugin authors (fixtures, helpers, tiny components)."""
from __future__ import annotations

import subprocess
import sys
import types
from importlib.metadata import entry_points

import pytest

import d3core
from d3core.api import hookimpl
from d3core.errors import D3UserError, PluginError
from d3core.testing.helpers import fresh_manager, registered


def make_plugin(name: str = "d3_fake_plugin", dataset: str = "fake-data") -> types.ModuleType:
    """An in-process plugin module registering one dataset (the tiny test dataset's class under another name)."""
    plugin = types.ModuleType(name)

    @hookimpl
    def register_datasets(register):
        register(dataset, "d3core.testing.components:TinyDataset", description="a fake", length=32)

    plugin.register_datasets = register_datasets
    return plugin


def test_registered_as_a_pytest11_plugin():
    values = {ep.value for ep in entry_points(group="pytest11")}
    assert "d3core.testing.pytest_plugin" in values


def test_loading_the_plugin_imports_no_torch():
    code = "import sys, d3core.testing.pytest_plugin; print([m for m in ('torch', 'numpy', 'h5py') if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_fresh_manager_has_builtins_and_the_tiny_components_only(d3_plugin_manager):
    assert d3_plugin_manager.registry("datasets").names() == ["tiny-dna"]
    assert d3_plugin_manager.registry("architectures").names() == ["tiny-arch"]
    assert "lightning" in d3_plugin_manager.registry("checkpoint_formats").names()
    assert "csv" in d3_plugin_manager.registry("loggers").names()
    assert d3_plugin_manager.strict
    assert d3core.get_registry("datasets") is d3_plugin_manager.registry("datasets")  # process-wide for the test


def test_d3_register_makes_an_in_process_plugin_visible(d3_register, d3_plugin_manager):
    record = d3_register(make_plugin(), "d3-fake-plugin", version="9.9")
    assert record.hooks == ["register_datasets"]
    entry = d3_plugin_manager.get("datasets", "FAKE_DATA")
    assert (entry.provider.distribution, entry.provider.version) == ("d3-fake-plugin", "9.9")
    assert "fake-data" in d3core.get_registry("datasets").names()


def test_registration_ends_with_the_block():
    manager = fresh_manager()
    with registered(manager, make_plugin(), "d3-fake-plugin"):
        assert "fake-data" in manager.registry("datasets")
    assert "fake-data" not in manager.registry("datasets")
    assert "d3-fake-plugin" not in manager.records


def test_strict_manager_reports_broken_plugins(d3_register):
    typo = types.ModuleType("typo")
    typo.register_dataset = hookimpl(lambda register: None)  # misspelled hook name
    with pytest.raises(PluginError, match="register_dataset"):
        d3_register(typo, "d3-typo")

    broken = types.ModuleType("broken")
    broken.register_datasets = hookimpl(lambda register: 1 / 0)
    d3_register(broken, "d3-broken")
    with pytest.raises(PluginError, match="ZeroDivisionError"):
        d3core.get_registry("datasets")


def test_tiny_h5(d3_tiny_h5):
    from d3core.testing.components import TinyDataset

    path = d3_tiny_h5()
    summary = TinyDataset().validate(path, full=True)
    assert summary.length == 32 and summary.label_names == ["activity"]
    assert [s.rows for s in summary.splits.values()] == [64, 7, 7]
    other = d3_tiny_h5(n=10, length=50, label_names=("dev", "hk"))
    assert other != path
    import h5py

    with h5py.File(other, "r", locking=False) as f:
        assert f["X_train"].shape == (10, 4, 50) and f["Y_train"].shape == (10, 2)


@pytest.mark.parametrize("label_mode, shape", [("global", (4, 2)), ("per_position", (4, 32, 2)), ("none", None)])
def test_tiny_batch_and_the_tiny_architecture(d3_tiny_batch, d3_plugin_manager, label_mode, shape):
    tokens, labels, sigma = d3_tiny_batch(num_labels=2, label_mode=label_mode)
    assert tokens.shape == (4, 32) and sigma.shape == (4,) and (sigma > 0).all()
    assert (labels is None and shape is None) or tuple(labels.shape) == shape
    architecture = d3_plugin_manager.get("architectures", "tiny-arch").load()
    model = architecture.build({"num_labels": 0 if label_mode == "none" else 2, "label_mode": label_mode,
                                "length": 32}, preset="tiny")
    assert model(tokens, labels, sigma).shape == (4, 32, 4)
    with pytest.raises(D3UserError, match="model.kernel_size"):
        architecture.build({"kernel_size": 4}, preset="tiny")


def test_train_smoke_runs_one_step_and_writes_a_loadable_checkpoint(d3_train_smoke):
    import torch

    summary = d3_train_smoke()
    assert summary["global_step"] == 1 and "val_loss" in summary["metrics"]
    assert (summary["run_dir"] / "config.yaml").is_file()
    model, graph, noise = d3core.load_model_local(summary["last_checkpoint"])
    assert model(torch.zeros(2, 32, dtype=torch.long), torch.zeros(2, 1), torch.ones(2)).shape == (2, 32, 4)


def test_run_cli_sees_in_process_plugins(d3_run_cli, d3_register):
    d3_register(make_plugin(), "d3-fake-plugin")
    result = d3_run_cli("plugins", "list", "--kind", "datasets")
    assert result.exit_code == 0
    assert "fake-data" in result.output and "tiny-dna" in result.output
    missing = d3_run_cli("plugins", "show", "dataset", "nope")
    assert missing.exit_code == 2 and "unknown dataset 'nope'" in missing.stderr
