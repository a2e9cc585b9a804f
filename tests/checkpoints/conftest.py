"""Fixtures of the checkpoint tests: original-format runs rebuilt once per session from the tiny fixture's recipe."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from d3core.cli import make_cli
from d3core.plugins import make_plugin_manager
from d3_ckpt_legacy.testing import load_manifest, write_legacy_run

FIXTURE = Path(__file__).parents[1] / "fixtures" / "legacy_runs" / "deepstarr_tran_tiny"
TOLERANCE = 1e-4  # max abs difference, fp32 (fixtures/README.md)


@pytest.fixture(scope="session")
def manifest() -> dict:
    return load_manifest(FIXTURE / "MANIFEST.json")


@pytest.fixture(scope="session")
def reference() -> dict:
    return torch.load(FIXTURE / "reference_outputs.pt", weights_only=True)


@pytest.fixture(scope="session")
def legacy_run(manifest, tmp_path_factory) -> Path:
    """The original run directory (hydra/config.yaml + checkpoints/checkpoint.pth), written once. Read-only."""
    return write_legacy_run(manifest, tmp_path_factory.mktemp("legacy") / "deepstarr_tran_tiny")


@pytest.fixture(scope="session")
def lightning_ckpt(legacy_run, tmp_path_factory) -> Path:
    """The fixture run converted to a d3 Lightning checkpoint, once. Read-only."""
    from d3core.checkpoints import convert_checkpoint

    target = tmp_path_factory.mktemp("lightning") / "deepstarr_tran_tiny.ckpt"
    convert_checkpoint(legacy_run, target, to="lightning")
    return target


def conv_manifest_from(manifest: dict) -> dict:
    """The fixture recipe turned into an original DeepSTARR *Conv* run (independently of the plugin's layout code).

    As in the released Conv run: cond_dim 256 (so ``sigma_map``, ``label_embed`` and every adaLN layer are 256 wide),
    no Gaussian-Fourier ``embed``, Adam moments only for the conv tower and the shared ``sigma_map``.
    """
    conv = copy.deepcopy(manifest)
    conv["fixture"], conv["arch"] = "deepstarr_conv_tiny", "Conv"
    conv["config"]["model"]["cond_dim"] = 256
    entries = []
    for entry in conv["state_dict"]:
        key, shape = entry["key"], list(entry["shape"])
        if key.startswith("embed."):
            continue
        if key.startswith("sigma_map.mlp.0."):
            shape[0] = 256
        elif key.startswith("sigma_map.mlp.2."):
            shape = [256] * len(shape)
        elif key == "label_embed.embedding_table.weight" or (key.endswith("adaLN_modulation.weight")):
            shape[-1] = 256
        entries.append({**entry, "shape": shape})
    conv["state_dict"] = entries
    params = [e["key"] for e in entries if e["key"] != "rotary_emb.inv_freq"]
    conv["ema_params"] = list(params)
    conv["optimizer_params"] = params + ["noise.empty"]
    tower = ("sigma_map.", "linear.", "conv_blocks.", "denses.", "norms.", "final.", "label_emb.")
    conv["optimizer_params_with_state"] = [k for k in params if k.startswith(tower)]
    conv["optimizer_param_groups"][0]["params"] = list(range(len(params) + 1))
    return conv


@pytest.fixture(scope="session")
def conv_manifest(manifest) -> dict:
    return conv_manifest_from(manifest)


@pytest.fixture(scope="session")
def conv_run(conv_manifest, tmp_path_factory) -> Path:
    return write_legacy_run(conv_manifest, tmp_path_factory.mktemp("legacy-conv") / "deepstarr_conv_tiny")


@pytest.fixture(scope="session")
def manager():
    return make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})


@pytest.fixture
def cli(manager):
    """``cli(*args)`` runs the d3 app in this process with the installed plugins; returns click's Result."""

    def invoke(*args):
        return CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)

    return invoke


def outputs(model, reference, key: str = "indices") -> torch.Tensor:
    with torch.no_grad():
        return model(reference[key], reference["labels"], reference["sigma"])
