"""Shared fixtures of the core tests."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from d3core.plugins import make_plugin_manager
from installed_d3 import D3_SCRIPT, install_fixture_plugins, user_env

@pytest.fixture(scope="session", autouse=True)
def _evaluation_cache_in_a_temporary_folder(tmp_path_factory):
    """d3 evaluate's reference cache ($D3_EVAL_CACHE) goes to a temporary folder, never the user's data dir."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("D3_EVAL_CACHE", str(tmp_path_factory.mktemp("eval-cache")))
        yield


@pytest.fixture
def warnings_seen() -> list[str]:
    """Warning lines a plugin manager printed (pass ``warn=warnings_seen.append``)."""
    return []


@pytest.fixture
def bare_pm(warnings_seen):
    """A plugin manager with the built-ins but no entry points: register in-process plugins on it."""
    return make_plugin_manager(load_entrypoints=False, env={}, warn=warnings_seen.append)


@pytest.fixture
def trained_deepstarr_oracle(tmp_path, monkeypatch) -> Path:
    """The file 'd3 oracle train --dataset deepstarr' leaves beside the dataset's default file (``$D3_DATA_DIR`` is
    ``tmp_path``): an untrained DeepSTARR CNN, seeded. What ``--oracle deepstarr`` resolves to."""
    from d3_deepstarr.oracle import DeepSTARROracle

    from d3core.evaluation.oracle import save_oracle

    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    torch.manual_seed(0)
    return save_oracle(tmp_path / "DeepSTARR_data.oracle.ckpt", DeepSTARROracle(2, 249).eval(), {
        "dataset": "deepstarr", "network": "d3_deepstarr.oracle:DeepSTARROracle", "num_outputs": 2, "length": 249,
        "label_names": ["dev", "hk"]})


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


class ExactScoreModel(torch.nn.Module):
    """Exact log-ratios when every position is i.i.d. with distribution ``probs`` (uniform graph); the likelihood
    bound of this model is ``-sum_i log probs[x_i]`` up to Monte Carlo error."""

    def __init__(self, probs):
        super().__init__()
        self.register_buffer("probs", torch.as_tensor(probs, dtype=torch.float64))

    def forward(self, tokens, labels, sigma):
        decay = torch.exp(-sigma.double())[:, None]
        marginal = decay * self.probs + (1 - decay) / 4
        log_marginal = marginal.log()[:, None, :].expand(*tokens.shape, -1)
        return (log_marginal - torch.gather(log_marginal, -1, tokens[..., None])).float()


@pytest.fixture
def exact_model():
    """``exact_model(probs)``: the exact score of i.i.d. positions with distribution ``probs``."""
    return ExactScoreModel


@pytest.fixture
def d3_cli():
    """``d3_cli(*args)`` runs the d3 app in this process; returns click's Result."""
    from d3core.cli import make_cli

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})

    def invoke(*args):
        return CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def motif_run(tmp_path_factory):
    """``(d3, last.ckpt, root)``: Conv ``tiny`` trained by ``d3 train`` for 400 steps (label dropout 0.1, one
    validation at the end, CSV logger) on 2000 rows of the two-motif dataset (100 bp, AP-1 -> dev, Dref -> hk;
    ``root/motifs.h5``); ``d3(*args)`` runs the app in this process on a manager that knows that dataset and asserts
    exit code 0. About a minute on 2 CPUs; shared by the conditioning, likelihood and design tests
    (:mod:`d3core.testing.motifs`)."""
    from d3core.testing.motifs import in_process_d3, train_two_motif_model, two_motif_manager

    d3 = in_process_d3(two_motif_manager())
    root = tmp_path_factory.mktemp("motifs")
    checkpoint, _ = train_two_motif_model(root, d3)
    return d3, checkpoint, root


@pytest.fixture(scope="session")
def three_cell_run(tmp_path_factory):
    """``(d3, last.ckpt, guide, judge, root)`` on the planted-motif ``three-cells`` data (120 bp; CEBP -> HepG2,
    GATA1 -> K562, OCT -> WTC11; SP1 and NRF1 raise all three): Conv ``tiny`` trained for 600 steps on 3000 rows, and
    two small oracles on different halves of them (the guide and the judge). Shared by the specificity and population
    search tests."""
    from d3core.testing.motifs import in_process_d3, train_guide_and_judge, train_two_motif_model, two_motif_manager

    d3 = in_process_d3(two_motif_manager())
    root = tmp_path_factory.mktemp("three-cells")
    checkpoint, data = train_two_motif_model(root, d3, steps=600, dataset="three-cells", rows=3000)
    guide, judge = train_guide_and_judge(root, d3, data, dataset="three-cells")
    return d3, checkpoint, guide, judge, root


@pytest.fixture(scope="session")
def motif_manager():
    """A plugin manager that knows the two-motif dataset on a GC 0.4 background (the likelihood tests: composition
    then separates dinucleotide shuffles from uniform random DNA)."""
    from d3core.testing.motifs import two_motif_manager

    return two_motif_manager(gc_content=0.4)


@pytest.fixture(scope="session")
def at_rich_motif_run(tmp_path_factory, motif_manager):
    """``(d3, last.ckpt, root)`` as ``motif_run``, on the GC 0.4 background of ``motif_manager``."""
    from d3core.testing.motifs import in_process_d3, train_two_motif_model

    d3 = in_process_d3(motif_manager)
    root = tmp_path_factory.mktemp("motifs-gc40")
    checkpoint, _ = train_two_motif_model(root, d3)
    return d3, checkpoint, root


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> tuple[Path, Path]:
    """``(last.ckpt, data file)``: Tran tiny after one optimizer step on 64 synthesized DeepSTARR rows."""
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.cli import make_cli

    root = tmp_path_factory.mktemp("sampling-run")
    data = root / "ds.h5"
    DeepSTARR().synthesize(data, 64, seed=5)
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    result = CliRunner().invoke(make_cli(manager), [
        "train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", str(data),
        "--work_dir", str(root / "run"), "--max_steps", "1", "--batch_size", "8", "--val_check_interval", "1",
        "--accelerator", "cpu", "--logger", "csv", "eval.batch_size=8", "optim.warmup=1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "run" / "checkpoints" / "last.ckpt", data
