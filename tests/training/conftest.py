"""Fixtures of the training tests: a small synthesized DeepSTARR-layout file and a CLI runner in this process."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from d3core.cli import make_cli
from d3core.plugins import make_plugin_manager

TINY_TRAIN = ["--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--batch_size", "16",
              "--val_check_interval", "10", "optim.warmup=5", "eval.batch_size=32",
              "lightning.logging.log_every_n_steps=5", "lightning.accelerator=cpu"]


@pytest.fixture(scope="session")
def deepstarr_file(tmp_path_factory) -> Path:
    """A synthesized DeepSTARR-layout HDF5 file (256 training rows, planted motifs), written once per session."""
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path_factory.mktemp("data") / "deepstarr_synth.h5"
    DeepSTARR().synthesize(path, 256, seed=3)
    return path


@pytest.fixture
def tiny_args(deepstarr_file) -> list[str]:
    """``d3 train`` arguments for a tiny CPU run on the synthesized file (add --work_dir and --max_steps)."""
    return [*TINY_TRAIN, "--data", str(deepstarr_file)]


def make_d3_invoker():
    """``invoke(*args)``: runs the d3 app in this process with the installed plugins (one plugin manager); returns
    click's Result."""
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})

    def invoke(*args: str):
        return CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def d3_cli():
    """``d3_cli(*args)`` runs the d3 app in this process with the installed plugins; returns click's Result."""
    return make_d3_invoker()


@pytest.fixture(scope="session")
def finished_tiny_run(tmp_path_factory, deepstarr_file) -> tuple[Path, str]:
    """``(run directory, d3 train's output)``: ``d3 train`` of Tran tiny for 20 steps (validation and a checkpoint at
    steps 10 and 20, CSV logger) on ``deepstarr_file``, once per session. Only read it: tests that resume or change a
    run take ``copied_tiny_run``."""
    run = tmp_path_factory.mktemp("finished-run") / "run"
    result = make_d3_invoker()("train", *TINY_TRAIN, "--data", deepstarr_file, "--work_dir", run, "--max_steps", "20",
                               "--logger", "csv")
    assert result.exit_code == 0, result.output
    return run, result.output


@pytest.fixture
def copied_tiny_run(finished_tiny_run, tmp_path) -> Path:
    """A copy of ``finished_tiny_run``'s directory, ``tmp_path / "run"``, for this test to resume or change."""
    return Path(shutil.copytree(finished_tiny_run[0], tmp_path / "run"))
