"""The original repository's entry points, kept as thin wrappers of the d3 command line (run as users run them)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
LEGACY_FIXTURE = ROOT / "tests" / "fixtures" / "legacy_runs" / "deepstarr_tran_tiny" / "MANIFEST.json"
D3 = Path(sys.executable).with_name("d3")


def _core_commands() -> set[str]:
    from d3core.cli import make_cli
    from d3core.plugins import make_plugin_manager
    from d3core.testing.helpers import process_manager

    manager = make_plugin_manager(load_entrypoints=False, env={})
    with process_manager(manager):
        cli = make_cli(manager)
    names = set(cli.commands)
    checkpoint = cli.commands.get("checkpoint")
    names |= {f"checkpoint {n}" for n in getattr(checkpoint, "commands", {})}
    return names


def _legacy_installed() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("d3-ckpt-legacy")
    except PackageNotFoundError:
        return False
    return True


CORE = _core_commands()
needs_convert = pytest.mark.skipif("convert" not in CORE or not _legacy_installed(),
                                   reason="d3 convert or the d3-ckpt-legacy plugin is missing")
needs_verify = pytest.mark.skipif("checkpoint verify" not in CORE or not _legacy_installed(),
                                  reason="d3 checkpoint verify or the d3-ckpt-legacy plugin is missing")


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    return subprocess.run([*map(str, args)], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def test_train_lightning_has_the_flags_of_d3_train():
    wrapper = run(sys.executable, SCRIPTS / "train_lightning.py", "--help")
    direct = run(D3, "train", "--help")
    assert wrapper.returncode == direct.returncode == 0
    assert wrapper.stdout == direct.stdout
    for flag in ("--dataset", "--arch", "--gpus", "--max_steps", "--val_check_interval", "--fast_dev_run",
                 "--dry_run", "--seed", "--resume_from"):
        assert flag in wrapper.stdout


def test_train_lightning_errors_like_d3_train():
    error = run(sys.executable, SCRIPTS / "train_lightning.py", "--dataset", "no-such-data", "--arch", "Tran")
    assert error.returncode == 2 and "unknown dataset 'no-such-data'" in error.stderr
    assert "Traceback" not in error.stderr


@pytest.mark.slow
def test_train_lightning_runs_d3_train(tmp_path):
    from d3core.testing.helpers import write_tiny_h5

    data = write_tiny_h5(tmp_path / "ds.h5", n=16, length=249, label_names=("dev", "hk"))
    result = run(sys.executable, SCRIPTS / "train_lightning.py", "--dataset", "deepstarr", "--arch", "Tran",
                 "--preset", "tiny", "--data", data, "--dry_run", "lightning.accelerator=cpu")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "# resolved config" in result.stdout and "d3-deepstarr==" in result.stdout


@pytest.fixture(scope="module")
def original_run(tmp_path_factory) -> Path:
    """An original D3 run directory (hydra/config.yaml + checkpoints/checkpoint.pth) from the tiny fixture recipe."""
    from d3_ckpt_legacy.testing import load_manifest, write_legacy_run

    return write_legacy_run(load_manifest(LEGACY_FIXTURE), tmp_path_factory.mktemp("zoo") / "deepstarr" / "Tran")


@needs_convert
def test_convert_checkpoints_runs_d3_convert(original_run, tmp_path):
    out = tmp_path / "converted"
    result = run(sys.executable, SCRIPTS / "convert_checkpoints.py", original_run, "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "Tran.ckpt").is_file()
    from d3core.checkpoints import detect_format
    from d3core.plugins import make_plugin_manager

    assert detect_format(out / "Tran.ckpt", make_plugin_manager())[0] == "lightning"
    tree = run(sys.executable, SCRIPTS / "convert_checkpoints.py", original_run.parents[1], "--recursive", "--out",
               tmp_path / "tree", "--dry_run")
    assert tree.returncode == 0, tree.stderr[-2000:]
    assert "Tran" in tree.stdout and not (tmp_path / "tree").exists()


@needs_verify
def test_compatibility_script_verifies_one_run_and_a_tree(original_run, tmp_path):
    one = run(sys.executable, SCRIPTS / "test_checkpoint_compatibility.py", original_run)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-2000:]
    assert f"== {original_run}" in one.stdout and "FAIL" not in one.stdout
    assert "PASS  outputs" in one.stdout and "1 checkpoint(s): 1 passed, 0 failed" in one.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run(sys.executable, SCRIPTS / "test_checkpoint_compatibility.py", empty)
    assert nothing.returncode == 2 and "no checkpoints found" in nothing.stderr


@pytest.mark.slow
@needs_verify
@needs_convert
def test_compatibility_script_searches_a_folder(original_run, tmp_path):
    from d3core.checkpoints import convert_checkpoint
    from d3core.plugins import make_plugin_manager

    zoo = tmp_path / "zoo"  # the installed plugins, whatever manager an earlier test left process-wide
    convert_checkpoint(original_run, zoo / "lightning" / "Tran.ckpt", to="lightning", manager=make_plugin_manager())
    (zoo / "notes.txt").write_text("not a checkpoint")
    (zoo / "broken.ckpt").write_bytes(b"not a checkpoint either")
    result = run(sys.executable, SCRIPTS / "test_checkpoint_compatibility.py", zoo, "--tolerance", "1e-4")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 checkpoint(s): 1 passed, 0 failed" in result.stdout
    assert f"== {zoo / 'lightning' / 'Tran.ckpt'}" in result.stdout
    assert f"-- skipped {zoo / 'broken.ckpt'}: " in result.stdout


@pytest.fixture(scope="module")
def deepstarr_file(tmp_path_factory) -> Path:
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path_factory.mktemp("data") / "ds.h5"
    DeepSTARR().synthesize(path, 64, seed=1)
    return path


@needs_verify
def test_compatibility_script_on_a_conv_tiny_run(deepstarr_file, tmp_path):
    """What make demo trains passes: the original format cannot hold a Conv tiny model, which is N/A, not FAIL."""
    trained = run(D3, "train", "--dataset", "deepstarr", "--arch", "Conv", "--preset", "tiny", "--data",
                  deepstarr_file, "--work_dir", tmp_path / "demo" / "run", "--max_steps", "1", "--batch_size", "16",
                  "--accelerator", "cpu", "--logger", "csv")
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = run(sys.executable, SCRIPTS / "test_checkpoint_compatibility.py", tmp_path / "demo")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "FAIL" not in result.stdout and "N/A   convert" in result.stdout
    assert "hard-wired to channels=256" in result.stdout
    assert "1 checkpoint(s): 1 passed, 0 failed" in result.stdout


UNIFIED_WITHOUT_LIGHTNING = """
import runpy, sys
unified = runpy.run_path(sys.argv[1])
code = unified["main"](sys.argv[2:])
assert "pytorch_lightning" not in sys.modules and "lightning" not in sys.modules, "the plain loop imported Lightning"
sys.exit(code)
"""


@needs_convert
def test_run_train_unified_trains_without_lightning_then_d3_takes_over(deepstarr_file, tmp_path):
    """The plain PyTorch loop writes an original run that d3 train resumes and d3 convert converts."""
    from d3core.checkpoints import detect_format, load_bundle
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager()  # the installed plugins, whatever manager an earlier test left process-wide
    plain = tmp_path / "plain"
    trained = run(sys.executable, "-c", UNIFIED_WITHOUT_LIGHTNING, SCRIPTS / "run_train_unified.py", "--dataset",
                  "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", deepstarr_file, "--work_dir", plain,
                  "--max_steps", "3", "--batch_size", "16", "--log_every", "1", "--device", "cpu", "optim.warmup=2")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "step 3/3  loss" in trained.stdout and "finished at step 3" in trained.stdout
    assert (plain / "hydra" / "config.yaml").is_file() and (plain / "checkpoints" / "checkpoint.pth").is_file()
    name, bundle = load_bundle(plain, manager)
    assert name == "legacy" and bundle.step == 3 and bundle.ema["num_updates"] == 3
    assert {int(s["step"]) for s in bundle.optimizer["state"].values()} == {3}

    resumed = run(D3, "train", "--resume_from", plain, "--data", deepstarr_file, "--work_dir", tmp_path / "lightning",
                  "--max_steps", "5", "--batch_size", "16", "--accelerator", "cpu", "--logger", "csv",
                  "eval.batch_size=16")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "d3: finished at step 5" in resumed.stdout
    converted = run(D3, "convert", plain, "--out", tmp_path / "converted")
    assert converted.returncode == 0, converted.stderr[-2000:]
    assert detect_format(tmp_path / "converted" / "plain.ckpt", manager)[0] == "lightning"

    conv = run(sys.executable, SCRIPTS / "run_train_unified.py", "--dataset", "deepstarr", "--arch", "Conv",
               "--preset", "tiny", "--data", deepstarr_file, "--work_dir", tmp_path / "conv", "--max_steps", "1")
    assert conv.returncode == 2 and "Traceback" not in conv.stderr
    assert "hard-wired to channels=256" in conv.stderr
