"""``d3 plugins new``: the scaffolded packages are complete, correct, and -- installed -- pass their own tests,
appear in ``d3 plugins list`` and train (the slow test runs that whole path in a temporary virtual environment)."""
from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from d3core.errors import D3UserError
from d3core.scaffold import names_for, scaffold

KINDS = {
    "dataset": ("my-enhancers", "d3-my-enhancers", "d3_my_enhancers",
                ["dataset.py", "data/example.h5"]),
    "architecture": ("MyNet", "d3-arch-mynet", "d3_arch_mynet", ["model.py", "network.py"]),
    "checkpoint-format": ("npz", "d3-ckpt-npz", "d3_ckpt_npz", ["format.py"]),
}


@pytest.fixture
def imported(tmp_path):
    """``load(folder, module)``: import a scaffolded package from its folder; removed from sys.modules after."""
    added: list[tuple[str, str]] = []

    def load(folder: Path, module: str):
        sys.path.insert(0, str(folder))
        added.append((str(folder), module))
        return importlib.import_module(module)

    yield load
    for folder, module in added:
        sys.path.remove(folder)
        for name in [n for n in sys.modules if n == module or n.startswith(module + ".")]:
            del sys.modules[name]


@pytest.mark.parametrize("kind, name, expected", [
    ("dataset", "my-enhancers", ("my-enhancers", "d3-my-enhancers", "d3_my_enhancers", "MyEnhancersDataset")),
    ("datasets", "d3-My_Data", ("My_Data", "d3-my-data", "d3_my_data", "MyDataDataset")),
    ("architecture", "MyNet", ("MyNet", "d3-arch-mynet", "d3_arch_mynet", "MyNetArchitecture")),
    ("arch", "d3-arch-wide-cnn", ("wide-cnn", "d3-arch-wide-cnn", "d3_arch_wide_cnn", "WideCnnArchitecture")),
    ("checkpoint-format", "npz", ("npz", "d3-ckpt-npz", "d3_ckpt_npz", "NpzFormat")),
    ("checkpoint_formats", "HDF5v2", ("HDF5v2", "d3-ckpt-hdf5v2", "d3_ckpt_hdf5v2", "HDF5v2Format")),
])
def test_names(kind, name, expected):
    names = names_for(kind, name)
    assert (names["name"], names["dist"], names["module"], names["class_name"]) == expected


@pytest.mark.parametrize("kind, name, kwargs, match", [
    ("logger", "x", {}, "no plugin template for 'logger'"),
    ("dataset", "9lives", {}, "not usable"),
    ("dataset", "a b", {}, "not usable"),
    ("dataset", "ok", {"length": 8}, "at least 16 bp"),
    ("dataset", "ok", {"labels": "a,a"}, "duplicate label"),
    ("dataset", "ok", {"labels": " , "}, "at least one label"),
    ("architecture", "ok", {"labels": "x"}, "apply to 'd3 plugins new dataset' only"),
])
def test_bad_requests_are_user_errors(tmp_path, kind, name, kwargs, match):
    with pytest.raises(D3UserError, match=match):
        scaffold(kind, name, tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kind", KINDS)
def test_package_is_complete(tmp_path, kind):
    name, dist, module, component_files = KINDS[kind]
    result = scaffold(kind, name, tmp_path)
    assert result.path == tmp_path / dist and (result.distribution, result.module) == (dist, module)
    expected = {".gitignore", "README.md", "pyproject.toml", f"{module}/__init__.py", f"tests/test_{module}.py",
                *(f"{module}/{f}" for f in component_files)}
    assert {str(p) for p in result.files} == expected
    for relative in result.files:
        path = result.path / relative
        if path.suffix == ".h5":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\{\{\s*\w+\s*\}\}|__module__", text), f"unrendered placeholder in {relative}"
        if path.suffix == ".py":
            compile(text, str(path), "exec")
    project = tomllib.loads((result.path / "pyproject.toml").read_text())
    assert project["project"]["name"] == dist
    assert project["project"]["entry-points"]["d3"] == {dist: module}
    assert project["project"]["dependencies"][0].startswith("d3core>=")
    assert f"`{result.name}`" in (result.path / "README.md").read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_readme_commands_exist(tmp_path, kind, check_shell_commands):
    name = KINDS[kind][0]
    result = scaffold(kind, name, tmp_path)
    assert check_shell_commands((result.path / "README.md").read_text(), f"{kind} README",
                                plugin_commands=()) >= 3


def test_dataset_options_and_the_example_file(tmp_path, imported):
    result = scaffold("dataset", "lenti", tmp_path, length=230, labels="k562, hepg2")
    package = imported(result.path, result.module)
    from d3_lenti.dataset import EXAMPLE_FILE, LentiDataset

    assert EXAMPLE_FILE == result.path / "d3_lenti" / "data" / "example.h5"
    summary = LentiDataset().validate(EXAMPLE_FILE, full=True)
    assert summary.length == 230 and summary.label_names == ["k562", "hepg2"]
    assert summary.splits["train"].rows == 64 and all(s.rows > 0 for s in summary.splits.values())
    calls = []
    package.register_datasets(lambda *args, **kwargs: calls.append((args, kwargs)))
    assert calls == [(("lenti", "d3_lenti.dataset:LentiDataset"),
                      {"description": "The lenti dataset for d3", "length": 230, "label_names": ["k562", "hepg2"],
                       "label_mode": "global"})]
    assert project_data(result.path) == {"d3_lenti": ["data/*.h5"]}


def project_data(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]


def test_dataset_falls_back_to_the_example_file_with_a_warning(tmp_path, imported, monkeypatch):
    result = scaffold("dataset", "fallback", tmp_path / "pkg")
    imported(result.path, result.module)
    from d3_fallback.dataset import EXAMPLE_FILE, FallbackDataset

    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path / "data"))
    with pytest.warns(UserWarning, match="using the example file"):
        assert FallbackDataset().default_path() == EXAMPLE_FILE
    (tmp_path / "data").mkdir()
    FallbackDataset().synthesize(tmp_path / "data" / "fallback.h5", 16)
    assert FallbackDataset().default_path() == tmp_path / "data" / "fallback.h5"


def test_architecture_builds_and_follows_the_forward_contract(tmp_path, imported, d3_tiny_batch):
    result = scaffold("architecture", "MyNet", tmp_path)
    imported(result.path, result.module)
    from d3_arch_mynet.model import MyNetArchitecture

    for label_mode, num_labels in (("global", 2), ("per_position", 1), ("none", 0)):
        model = MyNetArchitecture.build({"num_labels": num_labels, "label_mode": label_mode, "length": 40},
                                        preset="tiny")
        batch = d3_tiny_batch(batch=3, length=40, num_labels=num_labels, label_mode=label_mode)
        assert model(*batch).shape == (3, 40, 4)


def test_format_round_trip(tmp_path, imported, d3_register, d3_plugin_manager):
    import torch

    from d3core.checkpoints import CheckpointBundle, detect_format, load_bundle, save_bundle

    result = scaffold("checkpoint-format", "npz", tmp_path)
    d3_register(imported(result.path, result.module), result.distribution)
    weights = {"w": torch.randn(3, 2), "b": torch.zeros(2)}
    bundle = CheckpointBundle(config={"arch": "tiny-arch", "model": {"hidden_size": 8}}, model=weights,
                              ema={"decay": 0.9, "num_updates": 3, "shadow": {"w": torch.ones(3, 2)}},
                              optimizer={"state": {"w": {"step": torch.tensor(3.0)}}, "param_groups": [
                                  {"lr": 1e-3, "betas": (0.9, 0.999), "params": ["w", "b"]}]}, step=3)
    target = save_bundle(bundle, "npz", tmp_path / "x.npz", d3_plugin_manager)
    assert detect_format(target, d3_plugin_manager)[0] == "npz"
    name, loaded = load_bundle(target, d3_plugin_manager)
    assert name == "npz" and loaded.step == 3 and loaded.config == bundle.config
    assert torch.equal(loaded.model["w"], weights["w"]) and loaded.optimizer["param_groups"][0]["betas"] == (0.9, 0.999)
    (tmp_path / "other.npz").write_bytes(b"not a checkpoint")
    fmt = d3_plugin_manager.get("checkpoint_formats", "npz").load()
    assert not fmt.detect(tmp_path / "other.npz") and not fmt.detect(tmp_path)


def test_existing_folder_is_refused_unless_forced(tmp_path):
    scaffold("architecture", "again", tmp_path)
    with pytest.raises(D3UserError, match="already exists"):
        scaffold("architecture", "again", tmp_path)
    assert scaffold("architecture", "again", tmp_path, force=True).path.is_dir()


def _taken_plugin():
    import types

    from d3core.api import hookimpl

    plugin = types.ModuleType("taken")
    plugin.register_datasets = hookimpl(lambda register: register("taken", "x:y"))
    return plugin


def test_cli_writes_the_package_and_prints_the_next_steps(d3_run_cli, tmp_path):
    result = d3_run_cli("plugins", "new", "dataset", "my-enhancers", "--out", tmp_path, "--length", "100")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created d3-my-enhancers (dataset 'my-enhancers', module d3_my_enhancers) in ")
    assert f"pip install -e {tmp_path / 'd3-my-enhancers'}" in result.stdout
    assert "d3 train --dataset my-enhancers --arch Tran --preset tiny --fast_dev_run" in result.stdout
    assert (tmp_path / "d3-my-enhancers" / "d3_my_enhancers" / "data" / "example.h5").is_file()
    again = d3_run_cli("plugins", "new", "dataset", "my-enhancers", "--out", tmp_path)
    assert again.exit_code == 2 and "already exists" in again.stderr and "Traceback" not in again.output
    wrong = d3_run_cli("plugins", "new", "loggers", "x", "--out", tmp_path)
    assert wrong.exit_code == 2 and "choose one of: dataset, architecture, checkpoint-format" in wrong.stderr


def test_cli_warns_about_a_name_another_plugin_registers(d3_run_cli, d3_register, tmp_path):
    d3_register(_taken_plugin(), "d3-taken-elsewhere")
    result = d3_run_cli("plugins", "new", "dataset", "taken", "--out", tmp_path)
    assert result.exit_code == 0
    assert "dataset 'taken' is already registered by d3-taken-elsewhere" in result.stderr
    assert "'d3-taken-elsewhere:taken' or 'd3-taken:taken'" in result.stderr


def test_cli_refuses_the_name_of_an_installed_distribution(d3_run_cli, tmp_path):
    try:
        version("d3-deepstarr")
    except PackageNotFoundError:
        pytest.skip("d3-deepstarr is not installed")
    result = d3_run_cli("plugins", "new", "dataset", "deepstarr", "--out", tmp_path)
    assert result.exit_code == 2 and "d3-deepstarr is already installed" in result.stderr
    assert not any(tmp_path.iterdir())


# -- the whole path: scaffold, pip install -e, the packages' own tests, d3 plugins list, d3 train -------------------
def _venv_with_this_environment(folder: Path) -> Path:
    """A virtual environment that sees this environment's packages (d3core, torch, ...) through a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "_d3_parent_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


@pytest.mark.slow
def test_scaffold_install_test_list_and_train(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_") and k != "PYTHONPATH"}
    env["D3_DATA_DIR"] = str(tmp_path / "no-data-here")
    d3 = [str(Path(sys.executable).with_name("d3"))]
    packages = []
    for kind, (name, dist, _, _) in KINDS.items():
        made = subprocess.run([*d3, "plugins", "new", kind, name, "--out", str(tmp_path / "src")],
                              capture_output=True, text=True, env=env, timeout=120)
        assert made.returncode == 0, made.stderr
        packages.append(tmp_path / "src" / dist)

    python = _venv_with_this_environment(tmp_path / "venv")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
               "--no-build-isolation", "--no-index"]
    for package in packages:
        install += ["-e", str(package)]
    installed = subprocess.run(install, capture_output=True, text=True, env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]

    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                            str(tmp_path / "src"), *(str(p / "tests") for p in packages)],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "19 passed" in tests.stdout, tests.stdout[-1000:]

    d3_in_venv = [str(python), "-m", "d3core.cli"]
    listed = subprocess.run([*d3_in_venv, "plugins", "list", "--json"], capture_output=True, text=True,
                            env={**env, "D3_STRICT_PLUGINS": "1"}, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["d3-my-enhancers"]["provides"]["datasets"] == ["my-enhancers"]
    assert rows["d3-arch-mynet"]["provides"]["architectures"] == ["MyNet"]
    assert rows["d3-ckpt-npz"]["provides"]["checkpoint_formats"] == ["npz"]
    assert all(row["error"] is None and row["version"] == "0.1.0" for name, row in rows.items()
               if name in ("d3-my-enhancers", "d3-arch-mynet", "d3-ckpt-npz"))

    trained = subprocess.run([*d3_in_venv, "train", "--dataset", "my-enhancers", "--arch", "Tran", "--preset", "tiny",
                              "--fast_dev_run", "--accelerator", "cpu"],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "using the example file shipped with the plugin" in trained.stderr
    assert "d3: fast dev run passed (one training and one validation batch, step 1)" in trained.stdout
