"""The chunked, counter-seeded sampler: reproducible by seed whatever the batch size, bounded batches, correct law."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from d3core.diffusion import GeometricNoise, UniformGraph
from d3core.generation import generate, iter_chunks
from d3core.diffusion.randomness import cell_keys, row_keys, uniforms

GRAPH, NOISE = UniformGraph(4), GeometricNoise()


def _labels(n: int) -> torch.Tensor:
    return torch.linspace(-2, 2, 2 * n).reshape(n, 2)


def test_uniforms_are_deterministic_distinct_and_uniform():
    rows = torch.arange(64)
    cells = cell_keys((100, 4), "cpu")
    u = uniforms(row_keys(7, rows, 1, 3), cells)
    assert u.shape == (64, 100, 4) and u.dtype == torch.float32
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    assert torch.equal(u, uniforms(row_keys(7, rows, 1, 3), cells))
    assert abs(float(u.mean()) - 0.5) < 0.01 and abs(float(u.var()) - 1 / 12) < 0.005
    for other in (row_keys(8, rows, 1, 3), row_keys(7, rows, 2, 3), row_keys(7, rows, 1, 4),
                  row_keys(7, rows + 64, 1, 3)):
        assert (uniforms(other, cells) != u).float().mean() > 0.99
    # a sequence's numbers do not depend on which rows are drawn with it
    assert torch.equal(uniforms(row_keys(7, rows[10:12], 1, 3), cells), u[10:12])
    # big seeds (above 2**32) are folded in too
    assert not torch.equal(uniforms(row_keys(2**40, rows, 1, 3), cells), uniforms(row_keys(0, rows, 1, 3), cells))


@pytest.mark.parametrize("predictor", ["analytic", "euler"])
def test_same_seed_same_sequences_whatever_the_batch_size(tiny_model, predictor):
    labels = _labels(10)
    kwargs = dict(length=24, num=10, labels=labels, steps=6, predictor=predictor, seed=123)
    whole = generate(tiny_model, GRAPH, NOISE, batch_size=10, **kwargs)
    assert whole.shape == (10, 24) and whole.dtype == np.uint8 and whole.max() <= 3
    for batch_size in (1, 3, 7, 64):
        np.testing.assert_array_equal(generate(tiny_model, GRAPH, NOISE, batch_size=batch_size, **kwargs), whole)
    other_seed = generate(tiny_model, GRAPH, NOISE, batch_size=10, **{**kwargs, "seed": 124})
    assert (other_seed != whole).any(axis=1).all()
    # a later call continues the numbering: sequences 4..9 alone are the same as within the whole draw
    tail = generate(tiny_model, GRAPH, NOISE, batch_size=4, first_index=4,
                    **{**kwargs, "num": 6, "labels": labels[4:]})
    np.testing.assert_array_equal(tail, whole[4:])


def test_chunks_bound_the_model_batch(tiny_model):
    steps, num, batch = 3, 50, 7
    chunks = list(iter_chunks(tiny_model, GRAPH, NOISE, length=16, num=num, labels=_labels(num), steps=steps,
                              batch_size=batch, seed=0))
    assert [start for start, _ in chunks] == list(range(0, num, batch))
    assert sum(len(t) for _, t in chunks) == num
    assert max(tiny_model.batch_sizes) == batch
    assert len(tiny_model.batch_sizes) == math.ceil(num / batch) * (steps + 1)  # predictor steps + denoising


def test_progress_and_model_mode_restored(tiny_model):
    seen = []
    tiny_model.train()
    generate(tiny_model, GRAPH, NOISE, length=8, num=5, labels=_labels(5), steps=4, batch_size=2, seed=0,
             on_step=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (20, 20) and len(seen) == 12  # 3 chunks x 4 steps
    assert tiny_model.training


@pytest.mark.parametrize("predictor", ["analytic", "euler"])
def test_sampler_recovers_a_known_distribution(predictor, exact_model):
    probs = torch.tensor([0.55, 0.05, 0.3, 0.1])
    tokens = generate(exact_model(probs), GRAPH, NOISE, length=16, num=256, steps=64, predictor=predictor,
                      batch_size=100, seed=1)
    freq = np.bincount(tokens.ravel(), minlength=4) / tokens.size
    np.testing.assert_allclose(freq, probs.numpy(), atol=0.03)


def test_low_precision_modes_never_change_the_callers_weights(tiny_model):
    with torch.no_grad():
        tiny_model.embed.add_(1e-3 * torch.arange(16.0).reshape(4, 4))  # not representable in bf16
    before = {name: tensor.clone() for name, tensor in tiny_model.state_dict().items()}
    for precision in ("bf16-mixed", "bf16-true", "16-true"):
        tokens = generate(tiny_model, GRAPH, NOISE, length=8, num=3, labels=_labels(3), steps=2, seed=0,
                          precision=precision)
        assert tokens.shape == (3, 8) and tokens.max() <= 3
    after = tiny_model.state_dict()
    assert all(after[name].dtype == torch.float32 and torch.equal(after[name], before[name]) for name in before)


def test_bad_arguments_are_user_errors(tiny_model):
    from d3core.errors import D3UserError

    for kwargs, message in ((dict(predictor="heun"), "--predictor"), (dict(steps=0), "--steps"),
                            (dict(batch_size=0), "--batch-size"), (dict(precision="fp8"), "--precision")):
        with pytest.raises(D3UserError, match=message):
            generate(tiny_model, GRAPH, NOISE, length=8, num=2, labels=_labels(2), **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_draw_the_same_noise():
    rows = torch.arange(32)
    cpu = uniforms(row_keys(5, rows, 2, 9), cell_keys((50, 4), "cpu"))
    gpu = uniforms(row_keys(5, rows.cuda(), 2, 9), cell_keys((50, 4), "cuda"))
    assert torch.equal(cpu, gpu.cpu())


def test_d3_sample_keeps_freed_memory_unless_told_not_to():
    import sys

    from d3core.generation.allocator import keep_freed_memory

    assert keep_freed_memory({"D3_MALLOC_TUNING": "0"}) is False
    assert keep_freed_memory({}) is sys.platform.startswith("linux")
