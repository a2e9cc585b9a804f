"""GPU throughput of the published model: Tran ``paper`` training steps/s in bf16-mixed with SDPA (flash attention),
with and without ``torch.compile``, and sampling throughput. Run through ``benchmarks/gpu.sh``.

Usage: python benchmarks/gpu_bench.py [--device cuda] [--preset paper] [--batch 64] [--steps 30] [--out FILE]
``--device cpu --preset tiny`` runs the same code as a smoke test on a machine without a GPU.
"""
from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch

LENGTH, LABELS = 249, 2


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, precision: str):
    if precision == "bf16-mixed":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def train_steps_per_second(network, device, precision: str, batch: int, steps: int, warmup: int = 5) -> float:
    """Optimizer steps per second of the SEDD loss (forward, backward, clip, AdamW)."""
    from d3core.diffusion import GeometricNoise, UniformGraph, sedd_loss

    graph, noise = UniformGraph(4), GeometricNoise()
    optimizer = torch.optim.AdamW(network.parameters(), lr=3e-4)
    tokens = torch.randint(0, 4, (batch, LENGTH), device=device)
    labels = torch.randn(batch, LABELS, device=device)
    network.train()
    for step in range(warmup + steps):
        if step == warmup:
            _sync(device)
            start = time.perf_counter()
        with _autocast(device, precision):
            loss = sedd_loss(network, graph, noise, tokens, labels).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
    _sync(device)
    return steps / (time.perf_counter() - start)


def sampling_sequences_per_second(network, device, precision: str, batch: int, steps: int) -> float:
    from d3core.diffusion import GeometricNoise, UniformGraph, sample

    labels = torch.randn(batch, LABELS, device=device)
    with _autocast(device, precision):
        sample(network, UniformGraph(4), GeometricNoise(), (batch, LENGTH), labels=labels, steps=2, device=device)
        _sync(device)
        start = time.perf_counter()
        sample(network, UniformGraph(4), GeometricNoise(), (batch, LENGTH), labels=labels, steps=steps,
               device=device)
        _sync(device)
    return batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sample-batch", type=int, default=256)
    parser.add_argument("--sample-steps", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu.json")
    args = parser.parse_args()

    from d3_arch_tran.model import TranArchitecture

    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    report = {"benchmark": "gpu", "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "preset": args.preset, "precision": args.precision, "batch": args.batch,
              "sequence_length": LENGTH, "results": {}}

    def network():
        torch.manual_seed(0)
        return TranArchitecture.build({"num_labels": LABELS, "length": LENGTH}, preset=args.preset).to(device)

    eager = network()
    report["parameters"] = sum(p.numel() for p in eager.parameters())
    report["results"]["train_steps_per_s_eager"] = round(
        train_steps_per_second(eager, device, args.precision, args.batch, args.steps), 3)
    report["results"]["sampling_seq_per_s_eager"] = round(
        sampling_sequences_per_second(eager, device, args.precision, args.sample_batch, args.sample_steps), 2)
    del eager
    compiled = torch.compile(network())
    report["results"]["train_steps_per_s_compiled"] = round(
        train_steps_per_second(compiled, device, args.precision, args.batch, args.steps), 3)
    report["results"]["sequences_per_s_trained_compiled"] = round(
        report["results"]["train_steps_per_s_compiled"] * args.batch, 1)
    report["results"]["sequences_per_s_trained_eager"] = round(
        report["results"]["train_steps_per_s_eager"] * args.batch, 1)
    if device.type == "cuda":
        report["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
