"""Tests of the Tran architecture plugin (tiny preset; CPU, a few seconds)."""
import json
import subprocess
import sys

import pytest
import torch

import d3_arch_tran
from d3core.errors import D3UserError
from d3_arch_tran.model import TranArchitecture
from d3_arch_tran.network import DDiT

B, L, C = 3, 24, 2


def tiny(**overrides):
    return TranArchitecture.build({"num_labels": C, **overrides}, preset="tiny").eval()


def inputs(batch=B, length=L, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 4, (batch, length), generator=g)
    labels = torch.randn(batch, C, generator=g)
    sigma = torch.rand(batch, generator=g) * 5
    return tokens, labels, sigma


def randomize(model, seed=0):
    """Give every parameter (the zero-initialised adaLN and output layers included) a random value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def original_keys(n_blocks, with_labels=True):
    """State-dict keys of the original D3 transformer path (spec §7.1) minus its dead modules."""
    keys = ["vocab_embed.embedding"]
    if with_labels:
        keys += ["vocab_embed.signal_embedding.weight", "vocab_embed.signal_embedding.bias"]
    keys += [f"sigma_map.mlp.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")]
    keys += ["rotary_emb.inv_freq"]
    for n in range(n_blocks):
        keys += [f"blocks.{n}.{k}" for k in ("norm1.weight", "attn_qkv.weight", "attn_out.weight", "norm2.weight",
                                             "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
                                             "adaLN_modulation.weight", "adaLN_modulation.bias")]
    keys += [f"output_layer.{k}" for k in ("norm_final.weight", "linear.weight", "linear.bias",
                                           "adaLN_modulation.weight", "adaLN_modulation.bias")]
    return keys


# ---------------------------------------------------------------- registration
def test_registers_tran_with_alias_presets_and_label_modes():
    calls = []
    d3_arch_tran.register_architectures(lambda *a, **k: calls.append((a, k)))
    [(args, kwargs)] = calls
    assert args == ("Tran", "d3_arch_tran.model:TranArchitecture")
    assert kwargs["aliases"] == ("transformer",)
    assert kwargs["presets"] == list(TranArchitecture.presets) == ["tiny", "paper"]
    assert kwargs["label_modes"] == list(TranArchitecture.label_modes)
    json.dumps({k: v for k, v in kwargs.items()})  # metadata is plain JSON-able data


def test_plugin_module_does_not_import_torch():
    code = "import sys, d3_arch_tran; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- contract
def test_output_shape_dtype_and_exact_zero_at_init():
    model = tiny()
    tokens, labels, sigma = inputs()
    out = model(tokens, labels, sigma)
    assert out.shape == (B, L, 4) and out.dtype == torch.float32
    assert torch.equal(out, torch.zeros_like(out))  # zero-initialised head: the uniform model, s = 1


def test_self_logit_is_zero_and_others_are_not():
    model = randomize(tiny())
    tokens, labels, sigma = inputs()
    out = model(tokens, labels, sigma)
    self_logit = out.gather(-1, tokens[..., None])
    assert torch.equal(self_logit, torch.zeros_like(self_logit))
    others = out.masked_select(~torch.nn.functional.one_hot(tokens, 4).bool())
    assert (others != 0).all()


def test_sigma_and_labels_change_the_output():
    model = randomize(tiny())
    tokens, labels, sigma = inputs()
    out = model(tokens, labels, sigma)
    assert not torch.allclose(out, model(tokens, labels, sigma + 1))
    assert not torch.allclose(out, model(tokens, labels + 1, sigma))
    assert torch.allclose(out, model(tokens, labels, sigma[:, None]))  # sigma [B, 1] is accepted too


def test_per_position_labels():
    model = randomize(tiny())
    tokens, labels, sigma = inputs()
    broadcast = labels[:, None, :].expand(B, L, C).contiguous()
    torch.testing.assert_close(model(tokens, broadcast, sigma), model(tokens, labels, sigma))
    varied = broadcast.clone()
    varied[:, 5] += 1.0
    assert not torch.allclose(model(tokens, varied, sigma), model(tokens, broadcast, sigma))


def test_per_position_label_count_one_like_promoter():
    model = randomize(TranArchitecture.build({"num_labels": 1}, preset="tiny").eval())
    tokens, _, sigma = inputs()
    assert model(tokens, torch.randn(B, L, 1), sigma).shape == (B, L, 4)


def test_unconditional_model_takes_none_labels():
    model = TranArchitecture.build({"num_labels": 0}, preset="tiny").eval()
    assert "vocab_embed.signal_embedding.weight" not in model.state_dict()
    tokens, labels, sigma = inputs()
    assert model(tokens, None, sigma).shape == (B, L, 4)
    with pytest.raises(D3UserError, match="num_labels=0"):
        model(tokens, labels, sigma)


@pytest.mark.parametrize("labels, match", [
    (None, "labels=None"),
    (torch.zeros(B, 3), r"\[3, 2\]"),
    (torch.zeros(B, L + 1, C), r"\[3, 24, 2\]"),
    (torch.zeros(B), "label modes"),
])
def test_label_shape_errors_name_the_expected_shape(labels, match):
    model = tiny()
    tokens, _, sigma = inputs()
    with pytest.raises(D3UserError, match=match):
        model(tokens, labels, sigma)


def test_dropout_only_in_train_mode():
    model = randomize(tiny(dropout=0.5))
    tokens, labels, sigma = inputs()
    torch.testing.assert_close(model(tokens, labels, sigma), model(tokens, labels, sigma))
    model.train()
    torch.manual_seed(0)
    assert not torch.allclose(model(tokens, labels, sigma), model.eval()(tokens, labels, sigma))


def test_gradient_reaches_every_parameter():
    model = randomize(tiny()).train()
    tokens, labels, sigma = inputs()
    model(tokens, labels, sigma).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradient_at_init_reaches_the_head():
    model = tiny().train()
    tokens, labels, sigma = inputs()
    (model(tokens, labels, sigma) - 1).square().mean().backward()
    assert model.output_layer.linear.bias.grad.abs().sum() > 0


def test_no_self_autocast_and_fp32_under_cpu_autocast():
    model = randomize(tiny())
    tokens, labels, sigma = inputs()
    ref = model(tokens, labels, sigma)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(tokens, labels, sigma)
    assert out.dtype == torch.float32
    assert (out - ref).abs().max() < 0.1 * ref.abs().max()  # bf16 matmuls, same function


def test_rotary_makes_attention_position_aware():
    # without positions a transformer is permutation-equivariant; rotary breaks that
    model = randomize(tiny())
    tokens, labels, sigma = inputs()
    perm = torch.randperm(L, generator=torch.Generator().manual_seed(1))
    out = model(tokens, labels, sigma)
    assert not torch.allclose(model(tokens[:, perm], labels, sigma), out[:, perm], atol=1e-5)


# ---------------------------------------------------------------- names and sizes
def test_parameter_names_are_the_original_transformer_path():
    model = tiny()
    assert list(model.state_dict()) == original_keys(n_blocks=2)
    assert list(TranArchitecture.build({"num_labels": 0}, preset="tiny").state_dict()) == original_keys(
        2, with_labels=False)
    names = {n for n, _ in model.named_parameters()}
    assert "rotary_emb.inv_freq" not in names  # a persistent buffer, not a parameter
    assert not any(n.startswith(("scale", "label_embed", "embed.", "conv_blocks", "label_emb")) for n in names)


def test_shapes_of_the_tiny_preset():
    sd = tiny().state_dict()
    assert sd["vocab_embed.embedding"].shape == (4, 64)
    assert sd["vocab_embed.signal_embedding.weight"].shape == (64, C)
    assert sd["rotary_emb.inv_freq"].shape == (8,)
    assert sd["blocks.0.attn_qkv.weight"].shape == (192, 64)
    assert sd["blocks.1.adaLN_modulation.weight"].shape == (384, 32)
    assert sd["output_layer.adaLN_modulation.weight"].shape == (128, 32)
    torch.testing.assert_close(sd["rotary_emb.inv_freq"], 10000 ** (-torch.arange(0, 16, 2).float() / 16))


@pytest.mark.parametrize("num_labels, expected", [(2, 92_389_124), (3, 92_389_892)])
def test_paper_parameter_count(num_labels, expected):
    with torch.device("meta"):
        model = TranArchitecture.build({"num_labels": num_labels, "length": 249}, preset="paper")
    assert isinstance(model, DDiT)
    assert sum(p.numel() for p in model.parameters()) == expected  # spec §4.1: DeepSTARR / MPRA
    assert sum(p.numel() for p in model.blocks[0].parameters()) == 7_677_696


# ---------------------------------------------------------------- presets and config errors
def test_presets_and_config_resolution():
    assert TranArchitecture.preset("paper") == {"hidden_size": 768, "n_blocks": 12, "n_heads": 12,
                                                "cond_dim": 128, "dropout": 0.1}
    assert TranArchitecture.preset("TINY")["hidden_size"] == 64
    cfg = TranArchitecture.resolve_config({"preset": "tiny", "hidden_size": 32, "num_labels": 2})
    assert cfg["hidden_size"] == 32 and cfg["n_blocks"] == 2 and cfg["tokens"] == 4


def test_accepts_an_omegaconf_model_section():
    omegaconf = pytest.importorskip("omegaconf")
    section = omegaconf.OmegaConf.create({"model": {"hidden_size": 32, "n_blocks": 1, "n_heads": 2,
                                                    "cond_dim": 16, "dropout": 0.0, "num_labels": 2,
                                                    "length": 249, "channels": 8}}).model
    model = TranArchitecture.build(section)
    assert model.vocab_embed.embedding.shape == (4, 32) and len(model.blocks) == 1


def test_unknown_preset_names_the_choices():
    with pytest.raises(D3UserError, match=r"unknown preset 'huge' for architecture Tran; choose one of: tiny, paper"):
        TranArchitecture.build({"num_labels": 2}, preset="huge")


@pytest.mark.parametrize("config, match", [
    ({"hidden_size": 64, "n_blocks": 2, "n_heads": 4}, "model.cond_dim"),
    ({"preset": "tiny", "n_heads": 5}, "head size"),
    ({"preset": "tiny", "n_heads": 64}, "head size"),   # head dim 1 is odd: no rotary
    ({"preset": "tiny", "n_blocks": 0}, "model.n_blocks=0"),
    ({"preset": "tiny", "dropout": 1.5}, "model.dropout=1.5"),
    ({"preset": "tiny", "num_labels": -1}, "model.num_labels=-1"),
    ({"preset": "tiny", "hidden_size": "64"}, "model.hidden_size='64'"),
])
def test_bad_config_is_a_user_error(config, match):
    with pytest.raises(D3UserError, match=match):
        TranArchitecture.build(config)


@pytest.mark.parametrize("label_mode", ["global", "per_position"])
def test_null_condition_follows_the_contract(label_mode):
    """Classifier-free guidance: the learned null label embedding (only built with label dropout)."""
    from d3core.testing.helpers import check_null_condition

    check_null_condition(TranArchitecture, num_labels=2, label_mode=label_mode, length=24)
    keys = set(TranArchitecture.build({"num_labels": 2, "null_condition": True}, preset="tiny").state_dict())
    assert keys - set(TranArchitecture.build({"num_labels": 2}, preset="tiny").state_dict()) == {
        "vocab_embed.null_embedding"}


def test_label_nulls_follow_the_contract():
    """Missing labels: a learned null per label (built only when the data has missing labels)."""
    from d3core.testing.helpers import check_label_nulls

    check_label_nulls(TranArchitecture, num_labels=3, length=24)
    config = {"num_labels": 3, "null_condition": True}
    keys = set(TranArchitecture.build({**config, "label_nulls": True}, preset="tiny").state_dict())
    assert keys - set(TranArchitecture.build(config, preset="tiny").state_dict()) == {"vocab_embed.label_nulls.weight"}
