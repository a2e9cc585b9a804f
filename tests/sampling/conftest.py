"""Fixtures of the sampling tests: tiny in-memory score models (the real 1-step checkpoint ``trained_checkpoint``,
``d3_cli`` and ``exact_model`` are in tests/conftest.py)."""
from __future__ import annotations

import pytest
import torch


class TinyModel(torch.nn.Module):
    """A small random conditional score network following the architecture contract; records its batch sizes."""

    def __init__(self, vocab: int = 4, num_labels: int = 2):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.embed = torch.nn.Parameter(torch.randn(vocab, vocab, generator=generator))
        self.position = torch.nn.Parameter(0.3 * torch.randn(64, vocab, generator=generator))
        self.label = torch.nn.Linear(num_labels, vocab) if num_labels else None
        if self.label is not None:  # seeded like the rest: the same model in every test run
            with torch.no_grad():
                self.label.weight.copy_(0.5 * torch.randn(vocab, num_labels, generator=generator))
                self.label.bias.zero_()
        self.batch_sizes: list[int] = []

    def forward(self, tokens, labels, sigma):
        self.batch_sizes.append(tokens.shape[0])
        out = self.embed[tokens] + self.position[: tokens.shape[1]] - 0.1 * sigma[:, None, None]
        if self.label is not None:
            out = out + self.label(labels)[:, None, :]
        return out


@pytest.fixture
def tiny_model():
    return TinyModel()
