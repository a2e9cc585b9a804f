"""Fixtures of the evaluation tests: tiny synthesized data, a 1-step checkpoint and a 2-epoch oracle."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from d3core.cli import make_cli
from d3core.plugins import make_plugin_manager


def _invoke(*args):
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    return CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def d3_cli():
    """``d3_cli(*args)`` runs the d3 app in this process; returns click's Result."""
    return _invoke


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A synthesized DeepSTARR-layout file: 96 training rows, 10 valid, 10 test."""
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path_factory.mktemp("eval-data") / "ds.h5"
    DeepSTARR().synthesize(path, 96, seed=7)
    return path


@pytest.fixture(scope="session")
def tiny_oracle(tiny_data) -> Path:
    """The DeepSTARR oracle after 2 epochs on ``tiny_data``, at the default place beside it."""
    result = _invoke("oracle", "train", "--dataset", "deepstarr", "--data", tiny_data, "--max-epochs", "2",
                     "--batch-size", "32", "--accelerator", "cpu")
    assert result.exit_code == 0, result.output
    return tiny_data.with_name("ds.oracle.ckpt")


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_data, tmp_path_factory) -> Path:
    """Tran tiny after one optimizer step on ``tiny_data`` (the run's last.ckpt)."""
    run = tmp_path_factory.mktemp("eval-run") / "run"
    result = _invoke("train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", tiny_data,
                     "--work_dir", run, "--max_steps", "1", "--batch_size", "8", "--val_check_interval", "1",
                     "--accelerator", "cpu", "--logger", "csv", "eval.batch_size=16", "optim.warmup=1")
    assert result.exit_code == 0, result.output
    return run / "checkpoints" / "last.ckpt"
