"""Chunked, seeded sampling from a trained score model (spec §6), with bounded memory for any number of sequences.

``iter_chunks`` runs the predictor loop of :func:`d3core.diffusion.sample` (same time grid, predictors and final
denoising step) on at most ``batch_size`` sequences at a time and yields the tokens chunk by chunk. Its random draws
come from :mod:`d3core.generation.randomness`: the tokens of sequence ``i`` are a function of ``(seed, i)`` and the
model only, so the same seed gives the same sequences whatever the batch size.

Precision names follow Lightning: ``32-true`` (default on CPU), ``bf16-mixed`` / ``16-mixed`` (autocast around the
model call), ``bf16-true`` / ``16-true`` (the model cast to that dtype). The sampler's weights are always float32.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import numpy as np
import torch

from d3core.diffusion import analytic_probs, denoise_probs, euler_probs
from d3core.errors import D3UserError
from d3core.generation import randomness

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true")
PREDICTORS = ("analytic", "euler", "none")
DEFAULT_STEPS = 128
DEFAULT_BATCH_SIZE = 256

_PROBS = {"analytic": analytic_probs, "euler": euler_probs}


def check_precision(precision: str) -> str:
    value = str(precision).strip().lower()
    aliases = {"32": "32-true", "fp32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed", "fp16": "16-mixed"}
    value = aliases.get(value, value)
    if value not in PRECISIONS:
        raise D3UserError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return value


def default_precision(device: torch.device | str, recorded: str | None) -> str:
    """``32-true`` on CPU; on GPU the precision the checkpoint was trained with (``auto`` -> bf16-mixed if the GPU
    supports bf16, else 32-true)."""
    device = torch.device(device)
    if device.type != "cuda":
        return "32-true"
    recorded = str(recorded or "auto").lower()
    if recorded == "auto":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    try:
        return check_precision(recorded)
    except D3UserError:
        return "32-true"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _autocast(device: torch.device, precision: str):
    if precision.endswith("-mixed"):
        dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


def _model_dtype(precision: str) -> torch.dtype:
    return {"bf16-true": torch.bfloat16, "16-true": torch.float16}.get(precision, torch.float32)


def _categorical(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The exponential race of :func:`d3core.diffusion.sample_categorical` with given uniforms ``u``."""
    exponential = 1e-10 - (u + 1e-10).log()
    return (weights.float() / exponential).argmax(dim=-1)


def iter_chunks(model: torch.nn.Module, graph, noise, *, length: int, num: int, labels: torch.Tensor | None = None,
                steps: int = DEFAULT_STEPS, predictor: str = "analytic", batch_size: int = DEFAULT_BATCH_SIZE,
                seed: int = 0, device: torch.device | str | None = None, precision: str = "32-true",
                eps: float = 1e-5, denoise: bool = True, first_index: int = 0,
                on_step: Callable[[int, int], None] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Generate ``num`` sequences in chunks of at most ``batch_size``; yield ``(start, tokens uint8 [b, L])``.

    Args:
        model: ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]`` (run in eval mode, no grad).
        graph, noise: the diffusion's graph and noise schedule.
        length: sequence length L.
        num: number of sequences N.
        labels: ``[N, C]`` (one conditioning row per sequence; moved to the device one chunk at a time) or None.
        steps: predictor steps (time grid ``linspace(1, eps, steps + 1)``).
        predictor: ``analytic``, ``euler`` or ``none``.
        batch_size: most sequences in one model call (bounds memory).
        seed: with ``first_index``, all randomness: sequence i uses (seed, first_index + i) only.
        device: default: the model's device.
        precision: see the module docstring.
        first_index: global index of the first sequence (to continue a numbering across calls).
        on_step: ``on_step(done, total)``, called after every predictor step with the sequence-steps done so far
            and in all (for progress bars).
    """
    predictor = str(predictor).lower()
    if predictor not in PREDICTORS:
        raise D3UserError(f"--predictor {predictor!r}: use one of {', '.join(PREDICTORS)}")
    if steps < 1:
        raise D3UserError(f"--steps {steps}: must be at least 1")
    if batch_size < 1:
        raise D3UserError(f"--batch-size {batch_size}: must be at least 1")
    precision = check_precision(precision)
    if device is None:
        device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    device = torch.device(device)
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.float32)
        if labels.shape[0] != num:
            raise ValueError(f"labels have {labels.shape[0]} rows for {num} sequences; pass one row per sequence")
    was_training = model.training
    model.eval()
    dtype = _model_dtype(precision)
    if dtype != torch.float32:
        model.to(dtype)
    total_work, done_work = num * steps, 0
    timesteps = torch.linspace(1, eps, steps + 1, device=device)
    dt = (1 - eps) / steps
    try:
        for start in range(0, num, batch_size):
            b = min(batch_size, num - start)
            rows = torch.arange(first_index + start, first_index + start + b, device=device, dtype=torch.int64)
            chunk_labels = None if labels is None else labels[start:start + b].to(device=device, dtype=dtype)

            def score_fn(x, sigma, _labels=chunk_labels):
                with _autocast(device, precision):
                    return model(x, _labels, sigma.reshape(-1)).float().exp()

            with torch.no_grad():
                x = _initial_tokens(graph, rows, length, seed, device)
                cells = randomness.cell_keys((length, graph.dim), device)
                for i in range(steps):
                    if predictor != "none":
                        t = timesteps[i] * torch.ones(b, 1, device=device)
                        probs = _PROBS[predictor](graph, noise, score_fn, x, t, dt)
                        u = randomness.uniforms(randomness.row_keys(seed, rows, randomness.STREAM_STEP, i), cells)
                        x = _categorical(probs, u[..., :probs.shape[-1]])
                    done_work += b
                    if on_step is not None:
                        on_step(done_work, total_work)
                if denoise:
                    t = timesteps[-1] * torch.ones(b, 1, device=device)
                    probs = denoise_probs(graph, noise, score_fn, x, t)
                    u = randomness.uniforms(randomness.row_keys(seed, rows, randomness.STREAM_STEP, steps), cells)
                    x = _categorical(probs, u[..., :probs.shape[-1]])
            yield start, x.to("cpu", torch.uint8).numpy()
    finally:
        if dtype != torch.float32:
            model.to(torch.float32)
        model.train(was_training)


def _initial_tokens(graph, rows: torch.Tensor, length: int, seed: int, device) -> torch.Tensor:
    """The t = 1 tokens: uniform i.i.d. for the uniform graph (counter-based), the graph's own limit otherwise."""
    if getattr(graph, "absorb", False):
        return graph.sample_limit(rows.shape[0], length, device=device)
    u = randomness.uniforms(randomness.row_keys(seed, rows, randomness.STREAM_INIT, 0),
                            randomness.cell_keys((length,), device))
    return (u * graph.dim).long().clamp_(max=graph.dim - 1)


def generate(model, graph, noise, *, length: int, num: int, labels=None, **kwargs) -> np.ndarray:
    """All ``num`` sequences of :func:`iter_chunks` as one ``uint8 [N, L]`` array."""
    out = np.empty((num, length), dtype=np.uint8)
    for start, tokens in iter_chunks(model, graph, noise, length=length, num=num, labels=labels, **kwargs):
        out[start:start + tokens.shape[0]] = tokens
    return out


__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_STEPS", "PRECISIONS", "PREDICTORS", "check_precision", "default_device",
           "default_precision", "generate", "iter_chunks"]
