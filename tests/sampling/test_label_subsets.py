"""Sampling on a subset of the labels: a model with per-label nulls takes ``--labels HepG2=3,K562=-1`` and leaves the
other labels unconditioned (their learned null), with and without guidance; other models refuse it in one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from d3core.diffusion import GeometricNoise, UniformGraph, guided_score_fn, model_score_fn
from d3core.errors import D3UserError
from d3core.generation import generate
from d3core.generation.labels import label_rows, parse_label_values

GRAPH, NOISE = UniformGraph(4), GeometricNoise()
NAMES = ["HepG2", "K562", "WTC11"]
KW = dict(length=16, num=6, steps=4, batch_size=4, seed=5)


def _tran(label_nulls=True):
    from d3_arch_tran.model import TranArchitecture

    network = TranArchitecture.build({"num_labels": 3, "null_condition": True, "label_nulls": label_nulls},
                                     preset="tiny").eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(0.2 * torch.randn(parameter.shape, generator=generator))
    return network


class Explicit(torch.nn.Module):
    """The network with an explicit per-label mask (what a subset request must amount to)."""

    def __init__(self, network, mask):
        super().__init__()
        self.network, self.mask = network, mask
        self.eval()  # sampling restores the mode it found, on the wrapped network too

    def forward(self, tokens, labels, sigma, null_mask=None):
        mask = self.mask.expand(tokens.shape[0], -1) if null_mask is None else null_mask
        return self.network(tokens, labels.nan_to_num(0.0), sigma, null_mask=mask)


def test_labels_may_name_a_subset_only_where_the_model_allows_it():
    np.testing.assert_array_equal(parse_label_values("HepG2=3,K562=-1", NAMES, subset=True), [3, -1, np.nan])
    with pytest.raises(D3UserError, match="no value for WTC11"):
        parse_label_values("HepG2=3,K562=-1", NAMES)
    assert np.isnan(label_rows(["WTC11=2"], NAMES, subset=True)[0, :2]).all()


def test_a_subset_request_is_the_per_label_null_of_the_missing_labels():
    network = _tran()
    labels = torch.tensor([[3.0, -1.0, float("nan")]]).repeat(6, 1)
    mask = torch.tensor([[False, False, True]])
    subset = generate(network, GRAPH, NOISE, labels=labels, **KW)
    np.testing.assert_array_equal(subset, generate(Explicit(network, mask), GRAPH, NOISE,
                                                   labels=labels.nan_to_num(0.0), **KW))
    x, sigma = torch.randint(0, 4, (6, 16)), torch.full((6,), 0.7)
    other = labels.clone()
    other[:, 1] = 2.0  # a given label matters, a left-out one does not
    with torch.no_grad():
        score = model_score_fn(network, labels)(x, sigma)
        assert not torch.allclose(model_score_fn(network, other)(x, sigma), score)
        assert torch.equal(model_score_fn(Explicit(network, mask), labels.nan_to_num(5.0))(x, sigma), score)


def test_guidance_per_label_mixes_the_subset_with_the_unconditional_score():
    network = _tran()
    labels = torch.tensor([[3.0, float("nan"), float("nan")]]).repeat(4, 1)
    x = torch.randint(0, 4, (4, 16))
    sigma = torch.full((4,), 0.7)
    with torch.no_grad():
        conditional = model_score_fn(network, labels)(x, sigma).log()
        unconditional = model_score_fn(network, labels, null=True)(x, sigma).log()
        guided = guided_score_fn(network, labels, 2.0)(x, sigma).log()
    torch.testing.assert_close(guided, 2 * conditional - unconditional, rtol=1e-4, atol=1e-4)
    assert torch.isfinite(guided).all()


def test_a_model_without_per_label_nulls_refuses_a_subset_in_one_line():
    labels = torch.tensor([[3.0, -1.0, float("nan")]]).repeat(6, 1)
    with pytest.raises(D3UserError, match="no per-label nulls .* give every label"):
        generate(_tran(label_nulls=False), GRAPH, NOISE, labels=labels, **KW)
