"""Original checkpoints -> d3: reference outputs, the arch decision order, and loud failures on every mismatch."""
from __future__ import annotations

import copy
import warnings

import pytest
import torch
import yaml

from d3core.checkpoints import load_bundle, load_model_local
from d3core.errors import D3UserError
from d3_ckpt_legacy.testing import build_legacy_state

from .conftest import TOLERANCE, outputs

CONV_TOWER = ("linear.", "conv_blocks.", "denses.", "norms.", "final.", "label_emb.")


def _small(manifest: dict) -> dict:
    """The recipe without the (large, dead) conv tower: cheap files for the failure cases."""
    small = copy.deepcopy(manifest)
    small["state_dict"] = [e for e in small["state_dict"] if not e["key"].startswith(CONV_TOWER)]
    for key in ("ema_params", "optimizer_params", "optimizer_params_with_state"):
        small[key] = [k for k in small[key] if not k.startswith(CONV_TOWER)]
    small["optimizer_param_groups"][0]["params"] = list(range(len(small["optimizer_params"])))
    return small


def _write(run, manifest, mutate=None, *, optimizer_state=True, config=None):
    state = build_legacy_state(manifest, optimizer_state=optimizer_state)
    if mutate:
        mutate(state)
    (run / "hydra").mkdir(parents=True)
    (run / "hydra" / "config.yaml").write_text(yaml.safe_dump(config or manifest["config"], sort_keys=False))
    (run / "checkpoints").mkdir()
    torch.save(state, run / "checkpoints" / "checkpoint.pth")
    return run


@pytest.mark.parametrize("where", ["run dir", ".pth", ".ckpt"])
def test_ema_weights_reproduce_the_reference(where, legacy_run, lightning_ckpt, reference):
    paths = {"run dir": legacy_run, ".pth": legacy_run / "checkpoints" / "checkpoint.pth", ".ckpt": lightning_ckpt}
    path = paths[where]
    model, graph, noise = load_model_local(path, "cpu")
    assert not model.training
    assert (outputs(model, reference) - reference["out_ema_weights"]).abs().max().item() <= TOLERANCE
    sigma, dsigma = noise(reference["t"])
    torch.testing.assert_close(sigma, reference["total_noise"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dsigma, reference["rate_noise"], rtol=1e-5, atol=1e-6)


def test_raw_weights_reproduce_the_reference(legacy_run, reference):
    raw, _, _ = load_model_local(legacy_run, use_ema=False)
    assert (outputs(raw, reference) - reference["out_model_weights"]).abs().max().item() <= TOLERANCE


def test_loss_per_sequence_reproduces_the_reference(legacy_run, reference):
    from d3core.diffusion import sedd_loss

    model, graph, noise = load_model_local(legacy_run)
    with torch.no_grad():
        loss = sedd_loss(model, graph, noise, reference["indices"], reference["labels"], t=reference["t"],
                         perturbed=reference["perturbed"])
    expected = reference["loss_per_sequence_ema"]
    assert (loss - expected).abs().max().item() <= TOLERANCE * max(1.0, expected.abs().max().item())


def test_mapping_is_name_exact(manifest, legacy_run):
    """Every EMA tensor lands on the parameter of the same original name; moments likewise (no positional drift)."""
    from d3_ckpt_legacy.testing import ema_by_name

    state = build_legacy_state(manifest)
    _, bundle = load_bundle(legacy_run)
    ema = ema_by_name(manifest, state)
    assert set(bundle.ema["shadow"]) == {k for k in bundle.model if k != "rotary_emb.inv_freq"}
    for name, tensor in bundle.ema["shadow"].items():
        assert torch.equal(tensor, ema[name]), name
    for name, tensor in bundle.model.items():
        assert torch.equal(tensor, state["model"][name]), name
    index = {name: i for i, name in enumerate(manifest["optimizer_params"])}
    assert set(bundle.optimizer["state"]) == set(manifest["optimizer_params_with_state"])
    for name, moments in bundle.optimizer["state"].items():
        original = state["optimizer"]["state"][index[name]]
        assert torch.equal(moments["exp_avg"], original["exp_avg"]) and torch.equal(
            moments["exp_avg_sq"], original["exp_avg_sq"]), name
    assert bundle.optimizer["param_groups"][0]["params"] == list(bundle.ema["shadow"])
    assert type(bundle.optimizer["param_groups"][0]["lr"]) is float
    assert bundle.extra["legacy"]["original_parameters"] == sum(
        torch.Size(e["shape"]).numel() for e in manifest["state_dict"] if e["key"] != "rotary_emb.inv_freq")


def test_arch_decision_order(manifest, conv_run, tmp_path):
    small = _small(manifest)
    conv = load_bundle(conv_run)[1]
    assert conv.architecture == "Conv" and conv.extra["legacy"]["arch_decided_by"] == "optimizer moments"
    assert conv.precision == "32-true" and conv.config["model"]["channels"] == 256  # the original Conv ran in fp32
    # no moments (a run saved before its first step): the folder name decides ...
    named = _write(tmp_path / "deepstarr" / "Tran", small, optimizer_state=False)
    assert load_bundle(named)[1].extra["legacy"]["arch_decided_by"] == "run folder name"
    # ... else nothing does: exit 2 asking for --arch, which then decides
    anonymous = _write(tmp_path / "run-a", small, optimizer_state=False)
    with pytest.raises(D3UserError, match="pass --arch Tran or --arch Conv"):
        load_bundle(anonymous)
    assert load_bundle(anonymous, arch="tran")[1].extra["legacy"]["arch_decided_by"] == "--arch"
    # cond_dim 256 means Conv, with a warning
    from pathlib import Path

    from d3_ckpt_legacy.format import decide_arch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert decide_arch(arch=None, moment_names=[], cond_dim=256, run_dir=None, file=Path("x.pth")) == (
            "Conv", "cond_dim 256")
    assert any("cond_dim 256 suggests Conv" in str(w.message) for w in caught)
    # the flag beats the moments; both towers' moments are ambiguous
    assert decide_arch(arch="conv", moment_names=["blocks.0.norm1.weight"], cond_dim=32, run_dir=None,
                       file=Path("x.pth")) == ("Conv", "--arch")
    with pytest.raises(D3UserError, match="both the transformer and the convolutional tower"):
        decide_arch(arch=None, moment_names=["blocks.0.norm1.weight", "conv_blocks.0.weight"], cond_dim=32,
                    run_dir=None, file=Path("x.pth"))


def test_wrong_architecture_is_refused(legacy_run, cli):
    with pytest.raises(D3UserError, match="moments for .* modules a Conv run leaves unused"):
        load_bundle(legacy_run, arch="Conv")
    result = cli("convert", legacy_run, "--arch", "Conv", "--dry-run")
    assert result.exit_code == 0  # a dry run loads nothing
    result = cli("checkpoint", "info", legacy_run, "--arch", "Conv")
    assert result.exit_code == 2 and "leaves unused" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("damage,message", [
    (lambda s: s["ema"]["shadow_params"].pop(), "the EMA holds 35 tensors but the model has 36"),
    (lambda s: s["ema"]["shadow_params"].__setitem__(3, torch.zeros(7)), "EMA tensor for vocab_embed.signal_embed"),
    (lambda s: s["optimizer"]["param_groups"][0]["params"].pop(), "the optimizer indexes 37 parameters"),
    (lambda s: s["optimizer"]["state"][1].__setitem__("exp_avg", torch.zeros(3)), "optimizer exp_avg of vocab_embed"),
    (lambda s: s["optimizer"]["state"].__setitem__(99, {"step": torch.tensor(1.0)}), "optimizer state for index 99"),
    (lambda s: s.__setitem__("model", {("head.weight" if k == "scale" else k): v for k, v in s["model"].items()}),
     "key head.weight is not part of the original"),
    (lambda s: s.pop("ema"), "not an original D3 checkpoint"),
])
def test_inconsistent_files_fail_loudly(manifest, tmp_path, damage, message):
    run = _write(tmp_path / "run", _small(manifest), damage)
    with pytest.raises(D3UserError, match=message):
        load_bundle(run, arch="Tran")


def test_config_contradicting_the_weights_fails(manifest, tmp_path):
    config = copy.deepcopy(manifest["config"])
    config["model"]["hidden_size"] = 128
    run = _write(tmp_path / "run", _small(manifest), config=config)
    with pytest.raises(D3UserError, match="config model.hidden_size=128 but the weights have 64"):
        load_bundle(run)


def test_ddp_module_prefix_is_stripped(manifest, tmp_path, reference):
    run = _write(tmp_path / "run", _small(manifest),
                 lambda s: s.__setitem__("model", {f"module.{k}": v for k, v in s["model"].items()}))
    model, _, _ = load_model_local(run)
    assert (outputs(model, reference) - reference["out_ema_weights"]).abs().max().item() <= TOLERANCE
