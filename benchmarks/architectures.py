"""CPU cost of the score networks: training-step time and sampling throughput, Tran and Conv, tiny and paper.

Usage: python benchmarks/architectures.py [--quick] [--threads N] [--out benchmarks/results/architectures.json]

Setting: DeepSTARR shape (L = 249, 2 global labels), uniform graph, geometric noise, fp32 on the CPU.
- ``train_step_s``: median wall time of one training step = SEDD loss forward (``d3core.diffusion.sedd_loss``,
  batch mean) + backward, model in train mode (optimizer update excluded).
- ``sampling``: sequences per second of the analytic sampler (``d3core.diffusion.sample``) at 128 steps plus the final
  denoising step. Small models run the full 128 steps (best of 2). Paper-size models are too slow for that on a CPU: a few
  steps are timed and the 129 network calls are extrapolated from the per-step time (``extrapolated: true`` and
  ``measured_steps`` in the record).
``--quick`` runs only the tiny presets.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
try:  # installed plugins (make install); else the source tree
    from d3_arch_conv.model import ConvArchitecture
    from d3_arch_tran.model import TranArchitecture
except ImportError:
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins" / "d3_arch_tran"), str(ROOT / "plugins" / "d3_arch_conv")]
    from d3_arch_conv.model import ConvArchitecture
    from d3_arch_tran.model import TranArchitecture

from d3core.diffusion import GeometricNoise, UniformGraph, sample, sedd_loss

LENGTH, NUM_LABELS, SAMPLING_STEPS = 249, 2, 128
ARCHITECTURES = {"Tran": TranArchitecture, "Conv": ConvArchitecture}


def _timed(fn, repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def train_step(model, graph, noise, batch: int, repeat: int) -> dict:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 4, (batch, LENGTH), generator=g)
    labels = torch.randn(batch, NUM_LABELS, generator=g)
    model.train()

    def step():
        model.zero_grad(set_to_none=True)
        sedd_loss(model, graph, noise, x0, labels, generator=g).mean().backward()

    times = _timed(step, repeat)
    median = statistics.median(times)
    return {"train_step_s": round(median, 4), "train_sequences_per_s": round(batch / median, 2),
            "train_repeat": repeat}


def sampling(model, graph, noise, batch: int, measured_steps: int) -> dict:
    labels = torch.randn(batch, NUM_LABELS, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(2)

    def run(steps: int, denoise: bool):
        sample(model, graph, noise, (batch, LENGTH), labels=labels, steps=steps, predictor="analytic",
               denoise=denoise, generator=generator)

    run(1, False)  # warm-up
    if measured_steps >= SAMPLING_STEPS:
        total = min(_timed(lambda: run(SAMPLING_STEPS, True), repeat=2, warmup=0))
        record = {"extrapolated": False, "measured_steps": SAMPLING_STEPS + 1, "sampling_repeat": 2}
    else:
        start = time.perf_counter()
        run(measured_steps, False)
        per_step = (time.perf_counter() - start) / measured_steps
        total = per_step * (SAMPLING_STEPS + 1)  # 128 predictor steps + the denoising step, one network call each
        record = {"extrapolated": True, "measured_steps": measured_steps, "per_step_s": round(per_step, 4)}
    record.update({"sampling_s": round(total, 3), "sampling_sequences_per_s": round(batch / total, 3)})
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny presets only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "architectures.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    graph, noise = UniformGraph(4), GeometricNoise(1e-4, 20.0)

    results = []
    presets = ["tiny"] if args.quick else ["tiny", "paper"]
    for arch_name, arch in ARCHITECTURES.items():
        for preset in presets:
            model = arch.build({"num_labels": NUM_LABELS, "length": LENGTH}, preset=preset)
            n_params = sum(p.numel() for p in model.parameters())
            for batch in (8, 32):
                paper = preset == "paper"
                record = {"arch": arch_name, "preset": preset, "batch": batch, "parameters": n_params}
                record.update(train_step(model, graph, noise, batch, repeat=1 if paper and arch_name == "Tran"
                                         else 3 if paper else 10))
                record.update(sampling(model, graph, noise, batch,
                                       measured_steps=(2 if arch_name == "Tran" else 4) if paper else SAMPLING_STEPS))
                print(json.dumps(record), flush=True)
                results.append(record)
            del model

    out = {
        "benchmark": "architectures",
        "setting": {"length": LENGTH, "num_labels": NUM_LABELS, "graph": "uniform", "noise": "geometric(1e-4, 20)",
                    "dtype": "float32", "device": "cpu", "sampler": "analytic", "sampling_steps": SAMPLING_STEPS,
                    "denoise": True},
        "definitions": {
            "train_step_s": "median wall time of sedd_loss(...).mean().backward(), train mode, no optimizer update",
            "sampling_sequences_per_s": "batch / wall time (best of 2) of 128 analytic steps + denoising; when "
                                        "extrapolated, "
                                        "129 x the mean time per step over measured_steps steps (paper presets)",
        },
        "notes": [
            "paper presets: sampling at 128 steps is extrapolated from a few timed steps (see extrapolated, "
            "measured_steps, per_step_s); the Tran paper train step is a single timed step after one warm-up",
            "wall-clock figures on a small shared CPU machine vary by tens of percent between runs",
        ],
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.part")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
