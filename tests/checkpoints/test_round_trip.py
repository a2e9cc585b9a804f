""".pth -> .ckpt -> .pth is exact on weights, EMA and Adam moments; the exported run is what the original code loads
strictly (every original key, in order, with its shape and dtype; unused modules at their initial values)."""
from __future__ import annotations

import pytest
import torch
import yaml

from d3core.checkpoints import convert_checkpoint, load_bundle, safe_torch_load


def _original(run):
    return safe_torch_load(run / "checkpoints" / "checkpoint.pth")


def _layout(state):
    return [(k, tuple(v.shape), v.dtype) for k, v in state["model"].items()]


def _manifest_layout(manifest):
    return [(e["key"], tuple(e["shape"]), getattr(torch, e["dtype"])) for e in manifest["state_dict"]]


@pytest.fixture(scope="module")
def back_again(lightning_ckpt, tmp_path_factory):
    """The fixture run after .pth -> .ckpt -> .pth."""
    out = tmp_path_factory.mktemp("round-trip") / "run"
    convert_checkpoint(lightning_ckpt, out, to="legacy")
    return out


def test_pth_ckpt_pth_is_exact_on_trained_state(legacy_run, back_again, manifest):
    before, after = _original(legacy_run), _original(back_again)
    assert list(after) == ["optimizer", "model", "ema", "step"] and after["step"] == before["step"] == 4321
    trained = [k for k in manifest["ema_params"] if k in set(manifest["optimizer_params_with_state"])]
    assert len(trained) == 32
    for key in trained + ["rotary_emb.inv_freq"]:
        assert torch.equal(after["model"][key], before["model"][key]), key
    # the EMA list, in the original order, same length; trained entries bit-identical
    names = manifest["ema_params"]
    assert len(after["ema"]["shadow_params"]) == len(before["ema"]["shadow_params"]) == len(names)
    shadow_before, shadow_after = dict(zip(names, before["ema"]["shadow_params"])), dict(
        zip(names, after["ema"]["shadow_params"]))
    for key in trained:
        assert torch.equal(shadow_after[key], shadow_before[key]), key
    assert after["ema"]["decay"] == before["ema"]["decay"] and after["ema"]["num_updates"] == 1234
    # Adam moments: same indices (original order = all parameters + noise.empty), bit-identical tensors
    assert sorted(after["optimizer"]["state"]) == sorted(before["optimizer"]["state"])
    for index, moments in before["optimizer"]["state"].items():
        for key, value in moments.items():
            assert torch.equal(after["optimizer"]["state"][index][key], value), (index, key)
    group_after = after["optimizer"]["param_groups"][0]
    assert group_after["params"] == before["optimizer"]["param_groups"][0]["params"]
    assert group_after["lr"] == pytest.approx(3e-4) and group_after["betas"] == (0.9, 0.999)
    assert yaml.safe_load((back_again / "hydra" / "config.yaml").read_text()) == manifest["config"]


def test_exported_run_has_every_original_key_in_order(back_again, manifest):
    after = _original(back_again)
    assert _layout(after) == _manifest_layout(manifest)
    torch.load(back_again / "checkpoints" / "checkpoint.pth", weights_only=True)  # no numpy objects: no allow-list


def test_unused_modules_are_at_their_initial_values(back_again):
    model = _original(back_again)["model"]
    assert torch.equal(model["scale"], torch.ones(1))
    for i in range(20):
        assert torch.equal(model[f"norms.{i}.weight"], torch.ones(256))
        assert torch.equal(model[f"norms.{i}.bias"], torch.zeros(256))
    w = model["conv_blocks.3.weight"]  # Kaiming-uniform, a = sqrt(5): U(+-1/sqrt(fan_in)), fan_in = 256 * 9
    bound = 1 / (256 * 9) ** 0.5
    assert w.abs().max() <= bound and w.std() == pytest.approx(bound / 3 ** 0.5, rel=0.05)
    assert model["embed.0.W"].std() == pytest.approx(30, rel=0.3)  # frozen Gaussian-Fourier W = 30 N(0, 1)
    assert model["label_embed.embedding_table.weight"].std() == pytest.approx(1, rel=0.5)


def test_export_of_a_d3_native_checkpoint_matches_the_original_layout(lightning_ckpt, manifest, tmp_path):
    """A checkpoint that never was an original one (no stored layout) exports to the same keys and shapes."""
    from d3core.checkpoints import save_bundle

    _, bundle = load_bundle(lightning_ckpt)
    bundle.extra = {}
    save_bundle(bundle, "legacy", tmp_path / "run")
    after = _original(tmp_path / "run")
    assert _layout(after) == _manifest_layout(manifest)
    assert len(after["ema"]["shadow_params"]) == len(manifest["ema_params"])
    assert sorted(after["optimizer"]["state"]) == [manifest["optimizer_params"].index(n)
                                                    for n in manifest["optimizer_params_with_state"]]
    hydra = yaml.safe_load((tmp_path / "run" / "hydra" / "config.yaml").read_text())
    assert hydra["model"] == {**manifest["config"]["model"]}
    assert load_bundle(tmp_path / "run")[1].architecture == "Tran"  # and d3 reads its own export back


def test_conv_run_round_trip(conv_run, conv_manifest, tmp_path):
    from d3core.checkpoints import load_model_local

    ckpt = tmp_path / "conv.ckpt"
    convert_checkpoint(conv_run, ckpt, to="lightning")
    convert_checkpoint(ckpt, tmp_path / "back", to="legacy")
    before, after = _original(conv_run), _original(tmp_path / "back")
    assert _layout(after) == _manifest_layout(conv_manifest)  # no embed.* for the Conv variant
    trained = set(conv_manifest["optimizer_params_with_state"])
    for key in trained:
        assert torch.equal(after["model"][key], before["model"][key]), key
    for index, moments in before["optimizer"]["state"].items():
        assert torch.equal(after["optimizer"]["state"][index]["exp_avg_sq"], moments["exp_avg_sq"])
    names = conv_manifest["ema_params"]
    for key, a, b in zip(names, before["ema"]["shadow_params"], after["ema"]["shadow_params"], strict=True):
        if key in trained:
            assert torch.equal(a, b), key
    model, _, _ = load_model_local(ckpt)  # strict: every Conv key and shape, nothing else
    assert type(model).__name__ == "ConvNet" and not model.training


def test_lightning_to_lightning_is_lossless(lightning_ckpt, tmp_path):
    from d3core.checkpoints import save_bundle

    _, bundle = load_bundle(lightning_ckpt)
    save_bundle(bundle, "lightning", tmp_path / "again.ckpt")
    a, b = torch.load(lightning_ckpt, weights_only=True), torch.load(tmp_path / "again.ckpt", weights_only=True)
    assert a.keys() == b.keys()
    for key in ("epoch", "global_step", "loops", "callbacks", "lr_schedulers", "d3_config", "d3_legacy"):
        assert a[key] == b[key], key
    assert list(a["state_dict"]) == list(b["state_dict"])
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    sa, sb = a["optimizer_states"][0], b["optimizer_states"][0]
    assert sa["param_groups"] == sb["param_groups"] and sa["state"].keys() == sb["state"].keys()
    assert all(torch.equal(sa["state"][i][k], sb["state"][i][k]) for i in sa["state"] for k in sa["state"][i])
