"""Tests of the Conv architecture plugin (tiny preset; CPU, a few seconds)."""
import json
import subprocess
import sys

import pytest
import torch

import d3_arch_conv
from d3core.errors import D3UserError
from d3_arch_conv.model import ConvArchitecture
from d3_arch_conv.network import ConvNet

B, L, C = 3, 40, 2


def tiny(**overrides):
    return ConvArchitecture.build({"num_labels": C, "length": L, **overrides}, preset="tiny").eval()


def inputs(batch=B, length=L, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 4, (batch, length), generator=g), torch.randn(batch, C, generator=g),
            torch.rand(batch, generator=g) * 5)


def original_conv_keys(n_layers, with_label_emb=True):
    """State-dict keys of the original D3 conv path (spec §7.1) plus the noise embedder it uses."""
    keys = [f"sigma_map.mlp.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")]
    keys += ["linear.weight", "linear.bias"]
    keys += [f"conv_blocks.{n}.{w}" for n in range(n_layers) for w in ("weight", "bias")]
    keys += [f"denses.{n}.dense.{w}" for n in range(n_layers) for w in ("weight", "bias")]
    keys += [f"norms.{n}.{w}" for n in range(n_layers) for w in ("weight", "bias")]
    keys += [f"final.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")]
    if with_label_emb:
        keys += [f"label_emb.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")]
    return keys


def test_registers_conv_with_alias_presets_and_label_modes():
    calls = []
    d3_arch_conv.register_architectures(lambda *a, **k: calls.append((a, k)))
    [(args, kwargs)] = calls
    assert args == ("Conv", "d3_arch_conv.model:ConvArchitecture")
    assert kwargs["aliases"] == ("convolutional",)
    assert kwargs["presets"] == list(ConvArchitecture.presets) == ["tiny", "paper"]
    assert kwargs["label_modes"] == list(ConvArchitecture.label_modes)
    json.dumps(kwargs)


def test_plugin_module_does_not_import_torch():
    out = subprocess.run([sys.executable, "-c", "import sys, d3_arch_conv; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_output_shape_dtype_and_self_logit_kept_by_default():
    model = tiny()
    tokens, labels, sigma = inputs()
    out = model(tokens, labels, sigma)
    assert out.shape == (B, L, 4) and out.dtype == torch.float32
    assert (out.gather(-1, tokens[..., None]) != 0).all()  # the original Conv does not zero the self-logit


def test_zero_self_logit_option():
    plain = tiny()
    zeroed = tiny(zero_self_logit=True)
    zeroed.load_state_dict(plain.state_dict())
    tokens, labels, sigma = inputs()
    a, b = plain(tokens, labels, sigma), zeroed(tokens, labels, sigma)
    assert torch.equal(b.gather(-1, tokens[..., None]), torch.zeros(B, L, 1))
    other = ~torch.nn.functional.one_hot(tokens, 4).bool()
    assert torch.equal(a[other], b[other])


def test_labels_and_sigma_change_the_output():
    model = tiny()
    tokens, labels, sigma = inputs()
    out = model(tokens, labels, sigma)
    assert not torch.allclose(out, model(tokens, labels + 1, sigma))
    assert not torch.allclose(out, model(tokens, labels, sigma + 1))


def test_per_position_labels_are_raw_input_channels():
    model = tiny(label_mode="per_position", num_labels=1)
    assert model.linear.weight.shape[1] == 5 and not hasattr(model, "label_emb")
    tokens, _, sigma = inputs()
    labels = torch.randn(B, L, 1)
    assert model(tokens, labels, sigma).shape == (B, L, 4)
    model = tiny(label_mode="per_position", num_labels=3)
    assert model(tokens, torch.randn(B, L, 3), sigma).shape == (B, L, 4)
    with pytest.raises(D3UserError, match="label modes"):
        model(tokens, torch.randn(B, 3), sigma)


def test_unconditional_model():
    model = tiny(num_labels=0)
    assert model.linear.weight.shape[1] == 4
    tokens, _, sigma = inputs()
    assert model(tokens, None, sigma).shape == (B, L, 4)
    # any length works without a label MLP
    assert model(tokens[:, :7], None, sigma).shape == (B, 7, 4)


def test_global_labels_need_the_built_length():
    model = tiny()
    tokens, labels, sigma = inputs(length=L + 2)
    with pytest.raises(D3UserError, match=f"model.length={L}"):
        model(tokens, labels, sigma)
    with pytest.raises(D3UserError, match="model.length"):
        ConvArchitecture.build({"num_labels": 2}, preset="tiny")


def test_gradient_reaches_every_parameter():
    model = tiny().train()
    tokens, labels, sigma = inputs()
    model(tokens, labels, sigma).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_parameter_names_are_the_original_conv_path():
    assert list(tiny().state_dict()) == original_conv_keys(5)
    assert list(tiny(num_labels=0).state_dict()) == original_conv_keys(5, with_label_emb=False)


def test_paper_preset_layout_and_parameter_count():
    with torch.device("meta"):
        model = ConvArchitecture.build({"num_labels": 2, "length": 249}, preset="paper")
    assert isinstance(model, ConvNet)
    assert list(model.state_dict()) == original_conv_keys(20)
    assert [conv.dilation[0] for conv in model.conv_blocks] == [1, 1, 4, 16, 64] * 4
    assert [conv.padding[0] for conv in model.conv_blocks] == [4, 4, 16, 64, 256] * 4
    sd = model.state_dict()
    assert sd["linear.weight"].shape == (256, 5, 9)
    assert sd["denses.0.dense.weight"].shape == (256, 256)
    assert sd["label_emb.0.weight"].shape == (249, 2) and sd["label_emb.2.weight"].shape == (249, 249)
    assert sd["final.2.weight"].shape == (4, 256, 1)
    # spec §4.2: 13.40 M used parameters (sigma MLP 131,584 + label MLP 62,997 + conv stack)
    assert sum(p.numel() for p in model.parameters()) == 13_400_857
    assert sum(p.numel() for p in model.sigma_map.parameters()) == 131_584
    assert sum(p.numel() for p in model.label_emb.parameters()) == 62_997


def test_channels_layers_and_dilations_are_configurable():
    model = tiny(channels=16, n_layers=3, dilations=[2])
    assert [c.dilation[0] for c in model.conv_blocks] == [2, 2, 2]
    assert model.linear.out_channels == 16
    assert model(*inputs()).shape == (B, L, 4)


def test_unknown_preset_names_the_choices():
    with pytest.raises(D3UserError, match=r"unknown preset 'big' for architecture Conv; choose one of: tiny, paper"):
        ConvArchitecture.build({"num_labels": 2, "length": L}, preset="big")


@pytest.mark.parametrize("overrides, match", [
    ({"label_mode": "both"}, "model.label_mode='both'"),
    ({"label_mode": "none"}, "contradicts"),
    ({"dilations": [1, 0]}, "model.dilations"),
    ({"channels": 0}, "model.channels=0"),
    ({"zero_self_logit": "yes"}, "model.zero_self_logit='yes'"),
])
def test_bad_config_is_a_user_error(overrides, match):
    with pytest.raises(D3UserError, match=match):
        tiny(**overrides)


@pytest.mark.parametrize("label_mode", ["global", "per_position"])
def test_null_condition_follows_the_contract(label_mode):
    """Classifier-free guidance: a learned null label track (global) or a null mask channel (per position)."""
    from d3core.testing.helpers import check_null_condition

    check_null_condition(ConvArchitecture, num_labels=2, label_mode=label_mode, length=24)


def test_label_nulls_follow_the_contract():
    """Missing labels: a learned null track per label (global label mode, built only when the data has missing
    labels)."""
    from d3core.testing.helpers import check_label_nulls

    check_label_nulls(ConvArchitecture, num_labels=3, length=24)
    config = {"num_labels": 3, "length": 24, "null_condition": True}
    keys = set(ConvArchitecture.build({**config, "label_nulls": True}, preset="tiny").state_dict())
    assert keys - set(ConvArchitecture.build(config, preset="tiny").state_dict()) == {"label_nulls_track.weight"}
