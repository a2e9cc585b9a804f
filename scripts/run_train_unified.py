#!/usr/bin/env python
"""Train D3 with a plain PyTorch loop -- no Lightning -- over d3's own components, writing original D3 checkpoints.

    python scripts/run_train_unified.py --dataset deepstarr --arch Tran --preset tiny --data ds.h5 \\
        --work_dir runs/plain --max_steps 1000
    d3 train --resume_from runs/plain --data ds.h5 --work_dir runs/continued --max_steps 2000   # continue in Lightning
    d3 convert runs/plain --out converted/                                                      # or convert it

The name is the original D3 repository's, whose own loop this mirrors, so the two training methods can be compared
side by side and runs moved to Lightning when you are ready. The loop is ``d3 train``'s recipe, written out:

- the run config ``d3 train`` would resolve from the same flags and ``key=value`` overrides (dataset defaults, the
  architecture preset, ``--config_path``), checked the same way;
- batches in d3's (seed, epoch) order, ``training.batch_size`` split into ``training.accum`` micro-batches;
- the SEDD score-entropy loss, AdamW with D3's linear warm-up, gradient-norm clipping at ``optim.grad_clip``, the EMA
  updated once per optimizer step;
- every ``--snapshot_every`` steps and at the end, the original run layout in ``--work_dir``:
  ``hydra/config.yaml`` and ``checkpoints/checkpoint.pth`` ``{model, ema, optimizer, step}`` (written by the
  d3-ckpt-legacy format, atomically), which ``d3 train --resume_from``, ``d3 convert`` and the original code load.

It trains as the original did, without label dropout (the original layout has no place for a learned null
condition, so its runs cannot be guided with ``d3 sample --guidance``). It has no validation, loggers, callbacks or
several devices: that is what ``d3 train`` (Lightning) adds.
``--device cuda`` trains on one GPU (``lightning.precision`` ``auto``: bf16 autocast where the GPU supports it).
Errors you can fix print one line and exit 2, as ``d3`` does.
"""
from __future__ import annotations

import argparse
import random
import sys
import time

import torch

from d3core.checkpoints import CheckpointBundle, build_diffusion, optimizer_by_name, save_bundle
from d3core.checkpoints.optimizer import build_optimizer, warmup_factor
from d3core.config import ConfigSources
from d3core.data.sampler import EpochSeededBatchSampler
from d3core.diffusion import ExponentialMovingAverage, sedd_loss
from d3core.errors import D3UserError
from d3core.plain_data import to_plain
from d3core.training.plan import build_run_network, plan_run, plugin_versions

#: flag -> config key, as d3 train maps them
FLAG_KEYS = {"dataset": "dataset", "arch": "arch", "preset": "preset", "data": "data.path", "work_dir": "work_dir",
             "max_steps": "training.max_steps", "batch_size": "training.batch_size", "seed": "seed"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Trailing KEY=VALUE pairs override any config key, as in d3 train.")
    parser.add_argument("--dataset", help="dataset name (d3 plugins list --kind datasets)")
    parser.add_argument("--arch", help="architecture: Tran or Conv (the original format holds these)")
    parser.add_argument("--preset", help="architecture preset: tiny or paper (default paper)")
    parser.add_argument("--data", help="the dataset file (default: the dataset's cache)")
    parser.add_argument("--work_dir", "--work-dir", help="the run directory (default runs/<dataset>-<arch>-<time>)")
    parser.add_argument("--max_steps", "--max-steps", type=int, help="optimizer steps (default 1,000,000)")
    parser.add_argument("--batch_size", "--batch-size", type=int, help="global batch (default 256)")
    parser.add_argument("--seed", type=int, help="random seed (default 42)")
    parser.add_argument("--config_path", "--config-path", help="YAML merged over the defaults, as d3 train")
    parser.add_argument("--snapshot_every", "--snapshot-every", type=int, default=5000,
                        help="write checkpoint.pth every N steps (default 5000), and at the end")
    parser.add_argument("--log_every", "--log-every", type=int, default=50, help="print the loss every N steps")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda when a GPU is visible)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace):
    """The d3 run plan (config, dataset, data file, run directory) for the flags: one process on ``--device``."""
    flags = {key: getattr(args, name) for name, key in FLAG_KEYS.items() if getattr(args, name) is not None}
    flags.update({"lightning.devices": 1, "lightning.accelerator": "gpu" if args.device.startswith("cuda") else "cpu",
                  "training.label_dropout": 0.0})  # the original layout has no null condition (as the original)
    sources = ConfigSources(config_path=args.config_path, flags=flags, overrides=list(args.overrides))
    return plan_run(sources)


def on_cpu(state):
    """``state`` (nested dicts of tensors) with every tensor copied to the CPU."""
    if isinstance(state, dict):
        return {key: on_cpu(value) for key, value in state.items()}
    return state.detach().cpu() if torch.is_tensor(state) else state


def save_original_run(plan, network, ema, optimizer, step: int) -> None:
    """Write ``<work_dir>/hydra/config.yaml`` and ``<work_dir>/checkpoints/checkpoint.pth`` at ``step``."""
    names = [name for name, _ in network.named_parameters()]
    bundle = CheckpointBundle(
        config=to_plain(plan.config), model=on_cpu(network.state_dict()), ema=on_cpu(ema.state_dict()),
        optimizer=on_cpu(optimizer_by_name(optimizer.state_dict(), names, source="the training loop")), step=step,
        architecture=str(plan.config.arch), dataset=str(plan.config.dataset),
        precision=str(plan.config.lightning.precision), versions=plugin_versions(plan))
    save_bundle(bundle, "legacy", plan.run_dir, plan.manager)


def train(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    config, device = plan.config, torch.device(args.device)
    precision = plan.settings.precision.value
    if precision not in ("32-true", "bf16-mixed"):
        raise D3UserError(f"lightning.precision={precision}: this loop trains in 32-true or bf16-mixed; use d3 train")
    random.seed(int(config.seed))
    torch.manual_seed(int(config.seed))

    network = build_run_network(plan).to(device).train()
    graph, noise = build_diffusion(config)
    ema = ExponentialMovingAverage(network, decay=float(config.training.ema))
    optimizer = build_optimizer(network.parameters(), config.optim)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(int(config.optim.warmup)))
    save_original_run(plan, network, ema, optimizer, step=0)  # a model the original format cannot hold stops here

    accum, max_steps = int(config.training.accum), int(config.training.max_steps)
    split = plan.dataset.open_split(plan.data_path, "train")
    sampler = EpochSeededBatchSampler(len(split), int(config.training.batch_size) // accum, seed=int(config.seed))
    loader = torch.utils.data.DataLoader(split, batch_sampler=sampler, num_workers=int(config.data.num_workers),
                                         collate_fn=getattr(split, "collate_fn", None))
    conditional = config.model.label_mode != "none"
    print(f"run_train_unified: {config.arch} ({config.preset}) on {config.dataset} [{plan.data_path}] -> "
          f"{plan.run_dir}, {max_steps:,} steps on {device} ({precision})", file=sys.stderr)

    step, started, batches = 0, time.time(), iter(())
    while step < max_steps:
        for _ in range(accum):  # one optimizer step = accum micro-batches
            try:
                tokens, labels = next(batches)
            except StopIteration:  # the next data epoch: a new permutation, seeded with (seed, epoch)
                batches = iter(loader)
                tokens, labels = next(batches)
            tokens = tokens.to(device)
            labels = labels.to(device).float() if conditional else None
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
                loss = sedd_loss(network, graph, noise, tokens, labels).mean()
            (loss / accum).backward()
        if float(config.optim.grad_clip) > 0:
            torch.nn.utils.clip_grad_norm_(network.parameters(), float(config.optim.grad_clip))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        ema.update(network)
        step += 1
        if step % args.log_every == 0 or step == max_steps:
            print(f"step {step:,}/{max_steps:,}  loss {loss.item():.2f}  lr {scheduler.get_last_lr()[0]:.2e}  "
                  f"{time.time() - started:.0f}s")
        if step % args.snapshot_every == 0 or step == max_steps:
            save_original_run(plan, network, ema, optimizer, step)
    print(f"run_train_unified: finished at step {step:,}; original run directory: {plan.run_dir} "
          f"(d3 train --resume_from {plan.run_dir} continues it with Lightning)")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return train(parse_args(argv))
    except D3UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
