"""Every precision d3 sample and d3 design offer works on both architectures (tiny preset): the sampler draws valid
tokens, and a network cast to bf16/fp16 (``*-true``) computes what the fp32 one computes, to that dtype's accuracy."""
from __future__ import annotations

import copy

import pytest
import torch

from d3core.checkpoints.models import build_diffusion, build_network
from d3core.config import ConfigSources, assemble_config
from d3core.generation.sampler import PRECISIONS, generate
from d3core.plain_data import to_plain
from d3core.plugins import get_plugin_manager

LENGTH, LABELS = 249, 2


def _tiny(arch: str):
    """A tiny network of ``arch`` with a null condition and perturbed (not zero-initialised) weights."""
    flags = {"dataset": "deepstarr", "arch": arch, "model.length": LENGTH, "model.num_labels": LABELS,
             "model.null_condition": True}
    config = to_plain(assemble_config(ConfigSources(flags=flags)))
    config["model"].update(get_plugin_manager().architecture(arch).preset("tiny"))
    network = build_network(config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return network.eval(), *build_diffusion(config)


@pytest.mark.parametrize("arch", ["Tran", "Conv"])
def test_every_precision_samples_on_both_architectures(arch):
    network, graph, noise = _tiny(arch)
    for precision in PRECISIONS:
        for guidance in (1.0, 2.0):
            tokens = generate(network, graph, noise, length=LENGTH, num=2, labels=torch.ones(2, LABELS), steps=2,
                              precision=precision, guidance=guidance)
            assert tokens.shape == (2, LENGTH) and tokens.max() <= 3, (precision, guidance)


@pytest.mark.parametrize("arch", ["Tran", "Conv"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_cast_network_computes_what_the_fp32_one_does(arch, dtype):
    network, _, _ = _tiny(arch)
    tokens = torch.randint(0, 4, (3, LENGTH), generator=torch.Generator().manual_seed(1))
    labels, sigma = torch.randn(3, LABELS), torch.tensor([0.1, 1.0, 5.0])
    cast_network = copy.deepcopy(network).to(dtype)  # as the sampler casts a copy: before inference mode
    with torch.inference_mode():
        reference = network(tokens, labels, sigma)
        cast = cast_network(tokens, labels.to(dtype), sigma)
    assert cast.dtype == torch.float32 and torch.isfinite(cast).all()
    error = (cast - reference).abs().max() / reference.abs().max()
    assert error < 0.05, f"{arch} in {dtype}: relative error {error:.3g}"
