"""Label dropout (classifier-free guidance): 0.1 by default for architectures with a null condition, 0 for the others
and for original runs; p = 0 trains exactly as before (no draw, no null parameters)."""
from __future__ import annotations

import pytest
import torch

from d3core.config import ConfigSources
from d3core.errors import D3UserError
from d3core.testing.components import TinyArchitecture
from d3core.training.plan import build_run_network, plan_run


class NoNullArchitecture(TinyArchitecture):
    """tiny-arch without the null condition (a third-party architecture that does not implement it)."""

    name = "no-null"
    null_condition = False


class _Plugin:
    from d3core.api import hookimpl

    @staticmethod
    @hookimpl
    def register_architectures(register):
        register("no-null", NoNullArchitecture, description="test: no null condition")


def _plan(tmp_path, arch, data, **flags):
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    manager.register(_Plugin, "test-no-null", version="0")
    sources = ConfigSources(flags={"dataset": "deepstarr", "arch": arch, "preset": "tiny", "data.path": str(data),
                                   "work_dir": str(tmp_path / "run"), **flags})
    return plan_run(sources, manager=manager, check_hardware=False)


def test_new_runs_train_with_label_dropout_and_a_null_condition(tmp_path, deepstarr_file):
    plan = _plan(tmp_path, "Tran", deepstarr_file)
    assert plan.config.training.label_dropout == 0.1 and plan.config.model.null_condition is True
    network = build_run_network(plan)
    assert network.null_condition and "vocab_embed.null_embedding" in network.state_dict()
    off = _plan(tmp_path, "Tran", deepstarr_file, **{"training.label_dropout": 0.0})
    assert off.config.model.null_condition is False and "vocab_embed.null_embedding" not in build_run_network(off).state_dict()


def test_an_architecture_without_null_condition_trains_without_dropout(tmp_path, deepstarr_file):
    plan = _plan(tmp_path, "no-null", deepstarr_file)
    assert plan.config.training.label_dropout == 0.0 and plan.config.model.null_condition is False
    build_run_network(plan)
    asked = _plan(tmp_path, "no-null", deepstarr_file, **{"training.label_dropout": 0.2})
    with pytest.raises(D3UserError, match="no-null has no learned null condition.*training.label_dropout=0"):
        build_run_network(asked)


def test_training_rows_get_the_null_condition_with_probability_p(tmp_path, deepstarr_file):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.training.module import D3LightningModule

    plan = _plan(tmp_path, "Tran", deepstarr_file, **{"training.label_dropout": 0.25})
    module = D3LightningModule(plan.config, build_run_network(plan))
    masks = []
    forward = module.model.forward

    def recording(tokens, labels, sigma, null_mask=None):
        masks.append(null_mask)
        return forward(tokens, labels, sigma, null_mask=null_mask)

    module.model.forward = recording
    module.log = lambda *args, **kwargs: None
    module.optimizers = lambda: torch.optim.SGD(module.parameters(), lr=0.1)
    batch = DeepSTARR().open_split(deepstarr_file, "train").read_batch(list(range(256)))
    torch.manual_seed(0)
    for _ in range(8):
        module.training_step(batch, 0)
    dropped = torch.cat(masks).float().mean().item()
    assert 0.2 < dropped < 0.3, dropped

    plan = _plan(tmp_path, "Tran", deepstarr_file, **{"training.label_dropout": 0.0})
    plain = D3LightningModule(plan.config, build_run_network(plan))
    assert plain._with_label_dropout(batch[0]) is plain.model  # p = 0: no draw, the original objective


def test_original_runs_import_without_dropout_and_with_the_generation_protocol(tmp_path):
    from pathlib import Path

    from d3core.checkpoints import load_bundle
    from d3_ckpt_legacy.testing import load_manifest, write_legacy_run

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_runs" / "deepstarr_tran_tiny"
    run = write_legacy_run(load_manifest(fixture / "MANIFEST.json"), tmp_path / "original")
    _, bundle = load_bundle(run)
    assert bundle.config["training"]["label_dropout"] == 0.0 and bundle.config["model"]["null_condition"] is False
    # the hydra sampling section (euler, 128) set the original's training snapshots, not its generation
    assert bundle.config["sampling"]["predictor"] == "analytic" and bundle.config["sampling"]["steps"] is None
