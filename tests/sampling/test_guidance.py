"""Classifier-free guidance: G = 1 is plain conditional sampling, G = 0 unconditional sampling with the null condition,
other G the CFG combination of the two scores; models trained without label dropout refuse it in one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from d3core.diffusion import GeometricNoise, UniformGraph, guided_score_fn, model_score_fn
from d3core.errors import D3UserError
from d3core.generation import generate, read_samples

GRAPH, NOISE = UniformGraph(4), GeometricNoise()
LENGTH = 20


def _tran(label_mode="global", null_condition=True):
    from d3_arch_tran.model import TranArchitecture

    network = TranArchitecture.build({"num_labels": 2, "label_mode": label_mode, "null_condition": null_condition},
                                     preset="tiny").eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(0.2 * torch.randn(parameter.shape, generator=generator))
    return network


class NullOnly(torch.nn.Module):
    """The network's unconditional score: every call gets the null condition."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, tokens, labels, sigma):
        return self.network(tokens, labels, sigma, null_mask=torch.ones(tokens.shape[0], dtype=torch.bool))


def _labels(n, offset=0.0):
    return torch.linspace(-2, 2, 2 * n).reshape(n, 2) + offset


KW = dict(length=LENGTH, num=12, steps=6, batch_size=5, seed=7)


def test_guidance_one_is_plain_conditional_sampling():
    network = _tran()
    plain = generate(network, GRAPH, NOISE, labels=_labels(12), **KW)
    np.testing.assert_array_equal(generate(network, GRAPH, NOISE, labels=_labels(12), guidance=1.0, **KW), plain)
    assert (generate(network, GRAPH, NOISE, labels=_labels(12), guidance=2.0, **KW) != plain).any()


def test_guidance_zero_is_unconditional_sampling_with_the_null_condition():
    network = _tran()
    unconditional = generate(NullOnly(network), GRAPH, NOISE, labels=_labels(12), **KW)
    np.testing.assert_array_equal(generate(network, GRAPH, NOISE, labels=_labels(12), guidance=0.0, **KW),
                                  unconditional)
    # the requested labels play no part at G = 0, and a real part otherwise
    np.testing.assert_array_equal(generate(network, GRAPH, NOISE, labels=_labels(12, 5.0), guidance=0.0, **KW),
                                  unconditional)
    assert (generate(network, GRAPH, NOISE, labels=_labels(12), **KW) != unconditional).any()


@pytest.mark.parametrize("label_mode", ["global", "per_position"])
def test_guided_score_is_the_cfg_combination_of_both_scores(label_mode):
    network = _tran(label_mode)
    x = torch.randint(0, 4, (3, LENGTH), generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.1, 1.0, 5.0])
    labels = torch.randn(3, 2) if label_mode == "global" else torch.randn(3, LENGTH, 2)
    with torch.no_grad():
        conditional = model_score_fn(network, labels)(x, sigma).log()
        unconditional = model_score_fn(network, labels, null=True)(x, sigma).log()
        guided = guided_score_fn(network, labels, 2.5)(x, sigma).log()
    torch.testing.assert_close(guided, 2.5 * conditional - 1.5 * unconditional, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(conditional, unconditional)


def test_per_position_labels_are_guided_too():
    network = _tran("per_position")
    labels = torch.randn(12, LENGTH, 2, generator=torch.Generator().manual_seed(1))
    guided = generate(network, GRAPH, NOISE, labels=labels, guidance=3.0, **KW)
    assert guided.shape == (12, LENGTH) and (guided != generate(network, GRAPH, NOISE, labels=labels, **KW)).any()
    np.testing.assert_array_equal(generate(network, GRAPH, NOISE, labels=labels, guidance=0.0, **KW),
                                  generate(network, GRAPH, NOISE, labels=labels + 4.0, guidance=0.0, **KW))


def test_a_network_without_null_condition_refuses_guidance():
    with pytest.raises(D3UserError, match="trained without label dropout.*training.label_dropout"):
        generate(_tran(null_condition=False), GRAPH, NOISE, labels=_labels(12), guidance=2.0, **KW)


def test_cli_guidance_one_equals_no_flag_and_zero_needs_no_labels(d3_cli, trained_checkpoint, tmp_path):
    """The session checkpoint trained with the default label dropout (0.1), so it takes --guidance."""
    ckpt, _ = trained_checkpoint
    common = ["--num", "4", "--steps", "3", "--no-progress"]
    for name, extra in (("plain", []), ("one", ["--guidance", "1"]), ("three", ["--guidance", "3"])):
        result = d3_cli("sample", ckpt, "--labels", "dev=3,hk=0", *common, *extra, "-o", tmp_path / f"{name}.npz")
        assert result.exit_code == 0, result.output
    plain, one, three = (read_samples(tmp_path / f"{n}.npz") for n in ("plain", "one", "three"))
    np.testing.assert_array_equal(one.tokens, plain.tokens)
    assert (three.tokens != plain.tokens).any() and three.metadata["guidance"] == 3.0
    result = d3_cli("sample", ckpt, "--guidance", "0", *common, "-o", tmp_path / "null.fasta")
    assert result.exit_code == 0, result.output
    headers = [line for line in (tmp_path / "null.fasta").read_text().splitlines() if line.startswith(">")]
    assert [h.split()[0] for h in headers] == [f">d3_{i}" for i in range(4)]
    assert not any("label:" in h for h in headers)  # unconditional: no labels recorded (the first holds d3:meta)


def test_cli_guidance_on_an_original_run_is_a_one_line_error(d3_cli, tmp_path):
    """Original D3 runs trained without label dropout: --guidance names the fix."""
    from pathlib import Path

    from d3_ckpt_legacy.testing import load_manifest, write_legacy_run

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_runs" / "deepstarr_tran_tiny"
    run = write_legacy_run(load_manifest(fixture / "MANIFEST.json"), tmp_path / "original")
    result = d3_cli("sample", run, "--labels", "dev=2,hk=0", "--guidance", "2", "-o", tmp_path / "x.fasta")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "trained without label dropout" in lines[0] and "training.label_dropout" in lines[0]
    assert not (tmp_path / "x.fasta").exists()
