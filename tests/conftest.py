"""Shared fixtures of the core tests."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from d3core import hookimpl
from d3core.plugins import make_plugin_manager
from installed_d3 import D3_SCRIPT, install_fixture_plugins, user_env


@pytest.fixture
def warnings_seen() -> list[str]:
    """Warning lines a plugin manager printed (pass ``warn=warnings_seen.append``)."""
    return []


@pytest.fixture
def bare_pm(warnings_seen):
    """A plugin manager with the built-ins but no entry points: register in-process plugins on it."""
    return make_plugin_manager(load_entrypoints=False, env={}, warn=warnings_seen.append)


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """The fixture plugins of tests/fixtures/plugins, really pip-installed into a temporary PYTHONPATH folder."""
    return install_fixture_plugins(tmp_path_factory.mktemp("plugin-site"))


def _run_d3(*args: str, site: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run the installed ``d3`` console script with extra environment variables (and plugin site on PYTHONPATH)."""
    return subprocess.run([str(D3_SCRIPT), *args], capture_output=True, text=True, env=user_env(site, **env),
                          timeout=120)


@pytest.fixture(scope="session")
def run_d3():
    """``run_d3(*args, site=None, **env)``: run the installed ``d3`` script as a user would, return the result."""
    return _run_d3


#: optimizer steps of the planted-motif model (Conv tiny on two-motifs, 2000 rows): enough to condition on the motifs
MOTIF_STEPS = 400


class _TwoMotifs:
    @staticmethod
    @hookimpl
    def register_datasets(register):
        register("two-motifs", "d3core.testing.components:TwoMotifDataset", description="conditioning test data",
                 length=100)


@pytest.fixture(scope="session")
def motif_run(tmp_path_factory):
    """``(d3, checkpoint, root)``: ``d3(*args)`` runs the app in-process on a manager that knows the ``two-motifs``
    dataset (AP-1 -> dev, Dref -> hk; ground truth = motif counts), and a Conv ``tiny`` checkpoint trained on its
    2000-row synthetic data (``root / "motifs.h5"``) for :data:`MOTIF_STEPS` steps with label dropout 0.1."""
    from click.testing import CliRunner

    from d3core.cli import make_cli

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    manager.register(_TwoMotifs, "test-two-motifs", version="0")

    def d3(*args):
        result = CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    root = tmp_path_factory.mktemp("motifs")
    data = root / "motifs.h5"
    d3("data", "synth", "two-motifs", "--n", "2000", "--seed", "0", "-o", data)
    d3("train", "--dataset", "two-motifs", "--arch", "Conv", "--preset", "tiny", "--data", data,
       "--work_dir", root / "run", "--max_steps", MOTIF_STEPS, "--batch_size", "32", "--val_check_interval",
       MOTIF_STEPS, "--accelerator", "cpu", "--logger", "csv", "optim.lr=2e-3", "optim.warmup=20",
       "eval.batch_size=200", "lightning.checkpoint.save_top_k=0")
    return d3, root / "run" / "checkpoints" / "last.ckpt", root
