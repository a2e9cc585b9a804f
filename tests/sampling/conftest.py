"""Fixtures of the sampling tests: tiny in-memory score models, and a real (1-step) checkpoint of d3 train."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from d3core.cli import make_cli
from d3core.plugins import make_plugin_manager


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


class ExactScoreModel(torch.nn.Module):
    """Exact log-ratios when every position is i.i.d. with distribution ``probs`` (uniform graph)."""

    def __init__(self, probs):
        super().__init__()
        self.register_buffer("probs", probs.double())

    def forward(self, tokens, labels, sigma):
        decay = torch.exp(-sigma.double())[:, None]
        marginal = decay * self.probs + (1 - decay) / 4
        log_marginal = marginal.log()[:, None, :].expand(*tokens.shape, -1)
        return (log_marginal - torch.gather(log_marginal, -1, tokens[..., None])).float()


@pytest.fixture
def tiny_model():
    return TinyModel()


@pytest.fixture
def d3_cli():
    """``d3_cli(*args)`` runs the d3 app in this process; returns click's Result."""
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})

    def invoke(*args):
        return CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> tuple[Path, Path]:
    """``(last.ckpt, data file)``: Tran tiny after one optimizer step on 64 synthesized DeepSTARR rows."""
    from d3_deepstarr.dataset import DeepSTARR

    root = tmp_path_factory.mktemp("sampling-run")
    data = root / "ds.h5"
    DeepSTARR().synthesize(data, 64, seed=5)
    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    result = CliRunner().invoke(make_cli(manager), [
        "train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", str(data),
        "--work_dir", str(root / "run"), "--max_steps", "1", "--batch_size", "8", "--val_check_interval", "1",
        "--accelerator", "cpu", "--logger", "csv", "eval.batch_size=8", "optim.warmup=1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "run" / "checkpoints" / "last.ckpt", data


@pytest.fixture
def exact_model():
    """``exact_model(probs)``: the exact score of i.i.d. positions with distribution ``probs``."""
    return ExactScoreModel
