"""Training throughput of the ``d3 train`` runner against a bare PyTorch loop on the same model, batch and loss.

Both sides do the same work per optimizer step: read a batch from the same lazily read HDF5 file, SEDD loss, backward,
gradient clipping, AdamW with the warm-up schedule, EMA update. The runner adds Lightning's loop, logging (CSV), the
progress bar and the checkpoint callbacks. Steps are timed after a warm-up, on the CPU; the two sides alternate ``--repeat`` times and the best of each counts.

Usage: python benchmarks/training_overhead.py [--arch Tran] [--steps 150] [--batch 32] [--out ...json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

WARMUP_STEPS = 20


class StepTimer(pl.Callback):
    """Times optimizer steps WARMUP_STEPS .. the end of fit; writes step_timer.json into the run directory."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == WARMUP_STEPS and not hasattr(self, "start"):
            self.start = time.perf_counter()

    def on_train_end(self, trainer, module):
        elapsed = time.perf_counter() - self.start
        steps = trainer.global_step - WARMUP_STEPS
        Path(trainer.default_root_dir, "step_timer.json").write_text(json.dumps({"seconds": elapsed, "steps": steps}))


def bare_loop(config, network, data_path: str, dataset, steps: int) -> float:
    """Seconds per optimizer step of a plain PyTorch loop doing the runner's work."""
    from d3core.diffusion import ExponentialMovingAverage, sedd_loss
    from d3core.data.sampler import EpochSeededBatchSampler
    from d3core.checkpoints import build_diffusion
    from d3core.checkpoints.optimizer import warmup_factor

    torch.manual_seed(0)
    graph, noise = build_diffusion(config)
    optimizer = torch.optim.AdamW(network.parameters(), lr=float(config.optim.lr))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(int(config.optim.warmup)))
    ema = ExponentialMovingAverage(network, decay=float(config.training.ema))
    split = dataset.open_split(data_path, "train")
    loader = torch.utils.data.DataLoader(split, collate_fn=split.collate_fn, batch_sampler=EpochSeededBatchSampler(
        len(split), int(config.training.batch_size), seed=0))
    network.train()
    done, start = 0, None
    while done < steps + WARMUP_STEPS:
        for tokens, labels in loader:
            if done == WARMUP_STEPS:
                start = time.perf_counter()
            loss = sedd_loss(network, graph, noise, tokens, labels.float()).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), float(config.optim.grad_clip))
            optimizer.step()
            scheduler.step()
            ema.update(network)
            done += 1
            if done == steps + WARMUP_STEPS:
                break
    return (time.perf_counter() - start) / steps


def runner_loop(sources, steps: int) -> tuple[float, object]:
    from d3core.training import fit, plan_run

    plan = plan_run(sources)
    fit(plan)
    timing = json.loads((plan.run_dir / "step_timer.json").read_text())
    return timing["seconds"] / timing["steps"], plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="Tran")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "training_overhead.json")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    torch.set_num_threads(os.cpu_count() or 1)

    from d3_deepstarr.dataset import DeepSTARR

    from d3core.config import ConfigSources
    from d3core.training import build_run_network

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "synth.h5"
        DeepSTARR().synthesize(data, 4096, seed=0)
        sources = ConfigSources(flags={
            "dataset": "deepstarr", "arch": args.arch, "preset": args.preset, "data.path": str(data),
            "work_dir": str(Path(tmp) / "run"), "training.max_steps": args.steps + WARMUP_STEPS,
            "training.batch_size": args.batch, "training.val_check_interval": 10**6, "loggers": ["csv"],
            "callbacks": ["training_overhead:StepTimer"], "lightning.accelerator": "cpu"})
        runner_times, bare_times = [], []
        for attempt in range(args.repeat):  # interleaved, best of each: fair on a busy machine
            sources.flags["work_dir"] = str(Path(tmp) / f"run{attempt}")
            runner_s, plan = runner_loop(sources, args.steps)
            runner_times.append(runner_s)
            bare_times.append(bare_loop(plan.config, build_run_network(plan), str(data), plan.dataset, args.steps))
        runner_s, bare_s = min(runner_times), min(bare_times)
    report = {
        "benchmark": "training_overhead", "arch": args.arch, "preset": args.preset, "batch": args.batch,
        "timed_steps": args.steps, "repeats": args.repeat, "device": "cpu", "threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__, "lightning": pl.__version__,
        "bare_seconds_per_step": round(bare_s, 5), "runner_seconds_per_step": round(runner_s, 5),
        "runner_over_bare_ratio": round(runner_s / bare_s, 4),
        "runner_overhead_percent": round(100 * (runner_s / bare_s - 1), 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
