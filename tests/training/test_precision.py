"""Mixed precision as the original: under bf16 autocast the label and sigma embeddings compute in fp32 (spec §4.1
step 7) while the transformer blocks run in bf16; Conv trains in fp32 unless asked otherwise (spec §4.2 step 6)."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from d3core.plugins import get_plugin_manager
from d3core.training import run_settings

L, C = 249, 2


def _dtypes_under_autocast(model, names: list[str]) -> dict[str, torch.dtype]:
    """The output dtype of each named submodule in one forward pass under CPU bf16 autocast (+ ``"out"``)."""
    seen: dict[str, torch.dtype] = {}
    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.dtype))
               for name in names]
    tokens = torch.randint(0, 4, (2, L), generator=torch.Generator().manual_seed(0))
    labels, sigma = torch.randn(2, C), torch.tensor([0.5, 3.0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        seen["out"] = model(tokens, labels, sigma).dtype
    for handle in handles:
        handle.remove()
    return seen


def _build(arch: str):
    return get_plugin_manager().architecture(arch).build({"num_labels": C, "length": L}, preset="tiny").eval()


def test_tran_label_and_sigma_embeddings_are_fp32_under_autocast():
    model = _build("Tran")
    seen = _dtypes_under_autocast(model, ["vocab_embed.signal_embedding", "sigma_map.mlp.0", "sigma_map.mlp.2",
                                          "blocks.0.attn_qkv", "blocks.0.mlp.0", "output_layer.linear"])
    assert seen["vocab_embed.signal_embedding"] == torch.float32
    assert seen["sigma_map.mlp.0"] == seen["sigma_map.mlp.2"] == torch.float32
    assert seen["blocks.0.attn_qkv"] == seen["blocks.0.mlp.0"] == torch.bfloat16  # autocast is on in the blocks
    assert seen["out"] == torch.float32


def test_the_embeddings_under_autocast_equal_their_fp32_values():
    model = _build("Tran")
    labels, sigma = torch.randn(3, C), torch.tensor([0.1, 1.0, 10.0])
    exact_signal = model.vocab_embed.signal_embedding(labels)
    exact_sigma = model.sigma_map(sigma)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tokens = torch.zeros(3, L, dtype=torch.long)
        embedded = model.vocab_embed(tokens, labels) - model.vocab_embed.embedding[tokens]
        conditioned = model.sigma_map(sigma)
    torch.testing.assert_close(embedded, exact_signal[:, None, :].expand_as(embedded), rtol=0, atol=1e-6)
    assert torch.equal(conditioned, exact_sigma)


def test_conv_label_and_sigma_embeddings_are_fp32_under_autocast():
    seen = _dtypes_under_autocast(_build("Conv"), ["label_emb", "sigma_map.mlp.2", "conv_blocks.0"])
    assert seen["label_emb"] == seen["sigma_map.mlp.2"] == torch.float32
    assert seen["conv_blocks.0"] == torch.bfloat16 and seen["out"] == torch.float32


@pytest.mark.parametrize("arch, expected", [("Conv", "32-true"), ("Tran", "bf16-mixed")])
def test_auto_precision_on_a_bf16_gpu(monkeypatch, arch, expected):
    """What ``precision: auto`` gives each architecture on a GPU with bf16 (the CUDA queries answered as on an
    A100): Conv keeps the original's fp32; Tran gets bf16-mixed; an explicit precision always wins."""
    monkeypatch.setattr(run_settings, "_cuda_here", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    config = OmegaConf.create({"arch": arch, "seed": 0, "training": {"batch_size": 8, "accum": 1},
                               "eval": {"batch_size": 8},
                               "lightning": {"precision": "auto", "accelerator": "gpu", "devices": "auto",
                                             "num_nodes": 1, "strategy": "auto"}})
    assert run_settings.resolve_run_settings(config).precision.value == expected
    config.lightning.precision = "bf16-mixed"
    assert run_settings.resolve_run_settings(config).precision.value == "bf16-mixed"


@pytest.mark.skipif(torch.cuda.is_available(), reason="shows what a machine without a GPU can know")
def test_dry_run_of_a_conv_gpu_run_says_fp32(d3_cli, tiny_args):
    args = [a for a in tiny_args if a not in ("lightning.accelerator=cpu", "Tran")]
    arch = args.index("--arch")
    args.insert(arch + 1, "Conv")
    result = d3_cli("train", *args, "--gpus", "2", "--dry_run")
    assert result.exit_code == 0, result.output
    assert "#   precision    32-true (auto: Conv trains in 32-true, as the original did; --precision bf16-mixed " \
           "changes it)" in result.output.splitlines()
