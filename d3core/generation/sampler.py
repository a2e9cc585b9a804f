"""Chunked, seeded sampling from a trained score model (spec §6), with bounded memory for any number of sequences.

``iter_chunks`` runs the one predictor loop (:func:`d3core.diffusion.sample_from_score`) on at most ``batch_size``
sequences at a time and yields the tokens chunk by chunk. Its random numbers are counter-based
(:class:`d3core.diffusion.CounterDraws`): the tokens of sequence ``i`` are a function of ``(seed, i)`` and the model
only, so the same seed gives the same sequences whatever the batch size, and N processes drawing rows
``[start_k, stop_k)`` with ``first_index = start_k`` together draw exactly the single-process design set.

What a call can ask for besides plain conditional sampling: classifier-free guidance (``guidance``), fixed positions
(``template``), and variants of given sequences (``start``, a template of start sequences, at ``start_at < 1``).

Precision names follow Lightning: ``32-true`` (default on CPU), ``bf16-mixed`` / ``16-mixed`` (autocast around the
model call), ``bf16-true`` / ``16-true`` (a copy of the model cast to that dtype; the caller's weights are never
touched). The sampler's weights and draws are always float32.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterator

import numpy as np
import torch

from d3core.diffusion import (PREDICTORS, SAMPLING_EPS, CounterDraws, Step, guided_score_fn, model_score_fn,
                              sample_from_score)
from d3core.diffusion.sampling import eval_mode, model_device
from d3core.errors import D3UserError
from d3core.generation.templates import Template

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true")
DEFAULT_BATCH_SIZE = 256


def check_precision(precision: str) -> str:
    value = str(precision).strip().lower()
    aliases = {"32": "32-true", "fp32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed", "fp16": "16-mixed"}
    value = aliases.get(value, value)
    if value not in PRECISIONS:
        raise D3UserError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return value


def check_predictor(predictor: str) -> str:
    value = str(predictor).lower()
    if value not in PREDICTORS:
        raise D3UserError(f"--predictor {predictor!r}: use one of {', '.join(PREDICTORS)}")
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


def has_null_condition(model) -> bool:
    """True when the network was built with a learned null condition (trained with label dropout)."""
    return bool(getattr(model, "null_condition", False))


def has_label_nulls(model) -> bool:
    """True when the network was built with a learned null per label (trained on data with missing labels)."""
    return bool(getattr(model, "label_nulls", False))


def _network_for(model: torch.nn.Module, precision: str) -> tuple[torch.nn.Module, torch.dtype | None]:
    """``(network to call, autocast dtype)``: ``*-true`` precisions cast a copy, ``*-mixed`` autocast."""
    low = torch.bfloat16 if precision.startswith("bf16") else torch.float16
    if precision.endswith("-true") and precision != "32-true":
        return copy.deepcopy(model).to(low), None
    return model, (low if precision.endswith("-mixed") else None)


def iter_chunks(model: torch.nn.Module, graph, noise, *, length: int, num: int, labels=None, steps: int | None = None,
                predictor: str = "analytic", batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                device: torch.device | str | None = None, precision: str = "32-true", eps: float = SAMPLING_EPS,
                denoise: bool = True, first_index: int = 0, guidance: float = 1.0, template: Template | None = None,
                start: Template | None = None, start_at: float = 1.0,
                on_step: Callable[[int, int], None] | None = None,
                transition: Callable[[Step], torch.Tensor] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Generate ``num`` sequences in chunks of at most ``batch_size``; yield ``(start, tokens uint8 [b, L])``.

    Args:
        model: ``model(tokens [B, L] long, labels, sigma [B]) -> log_scores [B, L, V]`` (run in eval mode, no grad).
        graph, noise: the diffusion's graph and noise schedule.
        length: sequence length L.
        num: number of sequences N.
        labels: ``[N, C]`` or ``[N, L, C]`` (one conditioning row per sequence; moved to the device one chunk at a
            time) or None. NaN in ``[N, C]``: that label unconditioned (networks with per-label nulls).
        steps: predictor steps (default ``L``, the original's generation protocol), from ``start_at`` to ``eps``.
        predictor: ``analytic``, ``euler`` or ``none``.
        batch_size: most sequences in one model call (bounds memory; guidance calls the model on twice as many).
        seed: with ``first_index``, all randomness: sequence i uses (seed, first_index + i) only.
        device: default: the model's device.
        precision: see the module docstring.
        eps, denoise: final time of the grid; the final denoising step.
        first_index: global index of the first sequence (to continue a numbering across calls or processes).
        guidance: classifier-free guidance strength (1: plain conditional; needs a network with a null condition
            otherwise, see :func:`d3core.diffusion.guided_score_fn`).
        template: fixed positions (one row for all or one per sequence); put back after every step.
        start, start_at: start sequences (one row for all or one per sequence; unknown positions start fully noised)
            corrupted to time ``start_at``; without ``start`` the run starts from the limit at ``start_at`` = 1.
        on_step: ``on_step(done, total)``, called after every predictor step with the sequence-steps done so far
            and in all (for progress bars).
        transition: replaces the draw of every predictor step (see :class:`d3core.diffusion.Step`); guided design
            (:mod:`d3core.design`) selects among candidates with it.
    """
    predictor = check_predictor(predictor)
    steps = length if steps is None else int(steps)
    if steps < 1:
        raise D3UserError(f"--steps {steps}: must be at least 1")
    if batch_size < 1:
        raise D3UserError(f"--batch-size {batch_size}: must be at least 1")
    if not 0 < start_at <= 1:
        raise D3UserError(f"--start-at {start_at}: must be in (0, 1]")
    precision = check_precision(precision)
    guidance = float(guidance)
    if guidance != 1.0:
        if labels is None:
            raise D3UserError("--guidance applies to conditional sampling: give the labels to guide towards")
        if not has_null_condition(model):
            raise D3UserError(f"--guidance {guidance:g}: the network has no null condition (it was trained without "
                              "label dropout); retrain with training.label_dropout=0.1 or sample with --guidance 1")
    device = torch.device(device) if device is not None else model_device(model)
    network, autocast_dtype = _network_for(model, precision)
    label_dtype = next((p.dtype for p in network.parameters()), torch.float32) if autocast_dtype is None else None
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.float32)
        if labels.shape[0] != num:
            raise ValueError(f"labels have {labels.shape[0]} rows for {num} sequences; pass one row per sequence")
        if labels.dim() == 2 and bool(torch.isnan(labels).any()) and not has_label_nulls(model):
            raise D3UserError("the labels leave some labels out (NaN), but this network has no per-label nulls (it "
                              "was trained without missing labels); give every label")
    total_work, done_work = num * steps, 0
    with eval_mode(network), torch.inference_mode():
        for chunk_start in range(0, num, batch_size):
            b = min(batch_size, num - chunk_start)
            stop = chunk_start + b
            rows = torch.arange(first_index + chunk_start, first_index + stop, device=device, dtype=torch.int64)
            draws = CounterDraws(seed, rows)
            chunk_labels = None if labels is None else labels[chunk_start:stop].to(device=device,
                                                                                  dtype=label_dtype or torch.float32)
            if guidance == 1.0:
                score_fn = model_score_fn(network, chunk_labels, autocast_dtype=autocast_dtype)
            else:
                score_fn = guided_score_fn(network, chunk_labels, guidance, autocast_dtype=autocast_dtype)
            project = None
            if template is not None:
                fixed_tokens, fixed = template.rows(chunk_start, stop, device)

                def project(x, _tokens=fixed_tokens, _fixed=fixed):
                    return torch.where(_fixed, _tokens, x)

            x = draws.limit(graph, length)
            if start is not None:
                start_tokens, known = start.rows(chunk_start, stop, device)
                sigma = noise(torch.tensor(float(start_at), device=device))[0]
                x = torch.where(known, draws.corrupt(graph, start_tokens, sigma), x)
            if project is not None:
                x = project(x)

            def progress(i: int, n: int, _b=b) -> None:
                nonlocal done_work
                done_work += _b
                if on_step is not None:
                    on_step(done_work, total_work)

            x = sample_from_score(score_fn, graph, noise, x, draws, steps=steps, predictor=predictor, start=start_at,
                                  eps=eps, denoise=denoise, project=project, on_step=progress,
                                  transition=transition)
            yield chunk_start, x.to("cpu", torch.uint8).numpy()


def generate(model, graph, noise, *, length: int, num: int, labels=None, **kwargs) -> np.ndarray:
    """All ``num`` sequences of :func:`iter_chunks` as one ``uint8 [N, L]`` array."""
    out = np.empty((num, length), dtype=np.uint8)
    for start, tokens in iter_chunks(model, graph, noise, length=length, num=num, labels=labels, **kwargs):
        out[start:start + tokens.shape[0]] = tokens
    return out


__all__ = ["DEFAULT_BATCH_SIZE", "PRECISIONS", "check_precision", "check_predictor", "default_device",
           "default_precision", "generate", "has_label_nulls", "has_null_condition",
           "iter_chunks"]
