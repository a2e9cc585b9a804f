"""Training speed: seconds per optimizer step and achieved FLOP/s of ``d3 train``, eager and compiled, beside the
original D3 code at the same configuration.

Usage:
    python benchmarks/training_speed.py [--original PATH] [--rounds 2] [--cases tiny,paper] [--archs Tran,Conv]
    python benchmarks/training_speed.py --device cuda --precision bf16-mixed [--cases paper]   # GPU: MFU

A step is everything ``d3 train`` does per optimizer step -- data, SEDD loss, backward, clipping, AdamW with the
warm-up, EMA, Lightning's loop and logging -- timed between successive training batches of a real Trainer
(``--no-compile`` and ``--compile``; label dropout 0, as the original trains). The original's step is its own
``losses.get_step_fn`` (loss, backward, clipping, AdamW, EMA) on the same batch shape, with flash-attn replaced by
``F.scaled_dot_product_attention`` (``--original PATH``, a checkout of anirbansarkar-cs/D3-DNA-Discrete-Diffusion
with ``einops`` and ``omegaconf`` importable). Its Conv path is the one its README has users comment in (the
transformer sizes of its ``configs/model/small.yaml`` stay built, as they do there; ``cond_dim`` 256); its Conv is
paper-sized only (hard-coded). Each measurement is its own process; the codes alternate within each round, so a
busy machine disturbs all alike; per-round ratios are reported with their median, and the load average.

Model FLOPs per step: ``torch.utils.flop_counter.FlopCounterMode`` over the forward and backward of d3's network
(matrix products, convolutions, attention; the same network function as the original's), so FLOP/s = FLOPs /
seconds per step; on a GPU, MFU = FLOP/s / the device's dense bf16 peak (``--peak-tflops`` overrides the table).
Compile time: the first compiled step minus a compiled step, from a cold inductor cache (later processes reuse it).

Results: ``benchmarks/results/training_speed.json`` (``--out``); docs/performance.md has the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "training_speed.json"
LENGTH, NUM_LABELS = 249, 2
#: (arch, preset) -> the two batch sizes measured on the CPU
CPU_BATCHES = {("Tran", "tiny"): (32, 128), ("Tran", "paper"): (4, 8), ("Conv", "tiny"): (32, 128),
               ("Conv", "paper"): (8, 32)}
GPU_BATCHES = {("Tran", "tiny"): (256, 1024), ("Tran", "paper"): (64, 256), ("Conv", "tiny"): (256, 1024),
               ("Conv", "paper"): (64, 256)}
#: steps per process: warm-up (the first compiles) and timed
WARMUP = {"tiny": 3, "paper": 2}
TIMED = {"tiny": 12, "paper": 3}
#: dense bf16 tensor-core peak, TFLOP/s (vendor data sheets; SXM parts)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
                    "RTX 4090": 165.0, "A6000": 155.0}

_FLASH_STUB = '''"""flash-attn's varlen packed attention for equal lengths, as SDPA (d3 benchmarks/training_speed.py)."""
import torch.nn.functional as F

def flash_attn_varlen_qkvpacked_func(qkv, cu_seqlens, max_seqlen, dropout_p=0.0, causal=False):
    n, _, h, d = qkv.shape
    q, k, v = (t.transpose(1, 2) for t in qkv.view(n // max_seqlen, max_seqlen, 3, h, d).unbind(dim=2))
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p).transpose(1, 2).reshape(n, h, d)
'''


# ------------------------------------------------------------------------------------------------------- FLOPs
def model_flops(arch: str, preset: str, batch: int) -> int:
    """Matrix-product, convolution and attention FLOPs of one forward + backward of d3's network at ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

    from d3core.diffusion import GeometricNoise, UniformGraph, sedd_loss

    aten = torch.ops.aten

    def cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query, key, value)

    def cpu_sdpa_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_backward_flop_count(grad_out, query, key, value)

    network = _d3_network(arch, preset)
    tokens, labels = torch.randint(0, 4, (batch, LENGTH)), torch.randn(batch, NUM_LABELS)
    counter = FlopCounterMode(display=False, custom_mapping={
        aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: cpu_sdpa_backward})
    with counter:
        sedd_loss(network, UniformGraph(4), GeometricNoise(), tokens, labels).mean().backward()
    return int(counter.get_total_flops())


def _d3_network(arch: str, preset: str):
    from d3core.plugins import get_plugin_manager

    manager = get_plugin_manager()
    architecture = manager.architecture(manager.get("architectures", arch))
    return architecture.build({"num_labels": NUM_LABELS, "length": LENGTH}, preset=preset)


# ------------------------------------------------------------------------------------------------------- d3 worker
class StepClock(pl.Callback):
    """Wall time between successive training batches (one optimizer step each, everything ``d3 train`` does for it
    included); writes step_clock.json into the run directory."""

    def __init__(self):
        self.starts: list[float] = []

    def _now(self, trainer) -> float:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.starts.append(self._now(trainer))

    def on_train_end(self, trainer, module):
        self.starts.append(self._now(trainer))
        steps = [b - a for a, b in zip(self.starts, self.starts[1:])]
        Path(trainer.default_root_dir, "step_clock.json").write_text(json.dumps(steps))


def d3_worker(args) -> dict:
    from d3core.config import ConfigSources
    from d3core.training import fit, plan_run

    steps = WARMUP[args.preset] + TIMED[args.preset]
    with tempfile.TemporaryDirectory(prefix="d3-speed-") as tmp:
        flags = {"dataset": "deepstarr", "arch": args.arch, "preset": args.preset, "data.path": args.data,
                 "work_dir": str(Path(tmp) / "run"), "training.max_steps": steps, "training.batch_size": args.batch,
                 "training.val_check_interval": 10**6, "training.limit_val_batches": 0,
                 "training.label_dropout": 0.0, "training.compile": args.code == "d3-compiled", "loggers": [],
                 "callbacks": ["training_speed:StepClock"], "lightning.accelerator": args.device,
                 "lightning.precision": args.precision, "lightning.logging.log_every_n_steps": 50,
                 "lightning.checkpoint.save_top_k": 0}
        plan = plan_run(ConfigSources(flags=flags))
        fit(plan)
        times = json.loads((plan.run_dir / "step_clock.json").read_text())
    return {"first_s": times[0], "step_s": times[WARMUP[args.preset]:]}


# ------------------------------------------------------------------------------------------------- original worker
def _original_modules(checkout: Path, arch: str):
    """The original's model (Conv: its forward with the conv section commented in), graph, noise, losses, EMA."""
    stub = Path(tempfile.mkdtemp(prefix="d3-orig-"))
    (stub / "flash_attn").mkdir()
    (stub / "flash_attn" / "__init__.py").write_text("")
    (stub / "flash_attn" / "flash_attn_interface.py").write_text(_FLASH_STUB)
    source = checkout / "train_n_sample"
    if arch == "Conv":  # what the original's README has users do: swap the commented sections of SEDD.forward
        import shutil

        shutil.copytree(source / "model", stub / "model")
        text = (stub / "model" / "transformer.py").read_text()
        start = text.index("# Below code for transformer based networks")
        middle = text.index("# Comment out the above section and uncomment below for convolution")
        end = text.index("#---------------------------------------------#", middle)
        transformer = "\n".join(f"        # {line.strip()}" if line.strip() else line
                                for line in text[start:middle].splitlines()[1:])
        conv = "\n".join(line.replace("# ", "", 1) if line.strip().startswith("# ") and "#Label" not in line
                         else line for line in text[middle:end].splitlines()[1:])
        text = text[:start] + "#\n" + transformer + "\n        #\n" + conv + "\n        " + text[end:]
        (stub / "model" / "transformer.py").write_text(text)
    sys.path[:0] = [str(stub), str(source)]
    import graph_lib
    import losses
    import noise_lib
    from model import SEDD
    from model.ema import ExponentialMovingAverage

    return SEDD, graph_lib, noise_lib, losses, ExponentialMovingAverage


def original_step(checkout: Path, arch: str, preset: str, device: str = "cpu"):
    """``step(tokens, labels)``: one optimizer step of the original code (``losses.get_step_fn``: loss, backward,
    clipping, AdamW, EMA) on a fresh model of d3's preset sizes."""
    import contextlib
    import warnings

    warnings.filterwarnings("ignore")
    SEDD, graph_lib, noise_lib, losses, EMA = _original_modules(checkout, arch)
    config = original_config(arch, preset)
    with contextlib.redirect_stderr(open(os.devnull, "w")):
        model = SEDD(config).to(device)
        noise = noise_lib.GeometricNoise(1e-4, 20.0).to(device)
        optimizer = losses.get_optimizer(config, list(model.parameters()) + list(noise.parameters()))
        scaler = torch.amp.GradScaler(device, enabled=device == "cuda")
    state = {"model": model, "optimizer": optimizer, "scaler": scaler, "noise": noise, "step": 0,
             "ema": EMA(model.parameters(), decay=0.9999)}
    step_fn = losses.get_step_fn(noise, graph_lib.Uniform(4), True, losses.optimization_manager(config), 1)
    return lambda tokens, labels: step_fn(state, tokens, labels)


def original_worker(args) -> dict:
    step = original_step(Path(args.original), args.arch, args.preset, args.device)
    tokens = torch.randint(0, 4, (args.batch, LENGTH), device=args.device)
    labels = torch.randn(args.batch, NUM_LABELS, device=args.device)
    times = []
    for _ in range(WARMUP[args.preset] + TIMED[args.preset]):
        start = time.perf_counter()
        step(tokens, labels)
        if args.device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"first_s": times[0], "step_s": times[WARMUP[args.preset]:]}


def original_config(arch: str, preset: str):
    """The original's run config for d3's ``preset``: its training defaults (AdamW 3e-4, warm-up 2500, clip 1, EMA
    0.9999) and the model sizes of :func:`_d3_sizes`."""
    from omegaconf import OmegaConf

    return OmegaConf.create({
        "tokens": 4, "graph": {"type": "uniform"}, "training": {"accum": 1, "ema": 0.9999},
        "optim": {"optimizer": "AdamW", "lr": 3e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                  "warmup": 2500, "grad_clip": 1.0},
        "model": {**_d3_sizes(arch, preset), "length": LENGTH, "scale_by_sigma": False}})


def _d3_sizes(arch: str, preset: str) -> dict:
    """The original's ``model.*`` for d3's preset: Tran's sizes; Conv keeps small.yaml's transformer (cond_dim 256)."""
    if arch == "Tran":
        from d3_arch_tran.model import TranArchitecture

        return {k: TranArchitecture.preset(preset)[k] for k in ("hidden_size", "n_blocks", "n_heads", "cond_dim",
                                                                 "dropout")}
    return {"hidden_size": 768, "n_blocks": 12, "n_heads": 12, "cond_dim": 256, "dropout": 0.1}


# ------------------------------------------------------------------------------------------------------- driver
def _run_worker(args, code: str, arch: str, preset: str, batch: int, data: Path, cache: Path) -> dict:
    command = [sys.executable, __file__, "_worker", "--code", code, "--arch", arch, "--preset", preset,
               "--batch", str(batch), "--data", str(data), "--device", args.device, "--precision", args.precision]
    command += ["--original", args.original] if args.original else []
    command += ["--threads", str(args.threads)] if args.threads else []
    command += ["--timed", str(args.timed)] if args.timed else []
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
           "PYTHONWARNINGS": "ignore"}
    if code == "original":
        env["PYTHONPATH"] += os.pathsep + os.environ.get("D3_ORIGINAL_DEPS", "")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{code} {arch} {preset} batch {batch} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak_flops(args) -> float | None:
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    if args.device != "cuda":
        return None
    name = torch.cuda.get_device_name(0)
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


def measure(args) -> dict:
    from d3_deepstarr.dataset import DeepSTARR

    batches = GPU_BATCHES if args.device == "cuda" else CPU_BATCHES
    codes = ["d3-eager", "d3-compiled"] + (["original"] if args.original else [])
    peak = _peak_flops(args)
    report = {"benchmark": "training_speed", "device": args.device, "precision": args.precision,
              "device_name": torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor() or
              platform.machine(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "python": platform.python_version(), "rounds": args.rounds, "sequence_length": LENGTH,
              "warmup_steps": WARMUP, "timed_steps": TIMED,
              "peak_flops": peak, "load_average_start": os.getloadavg(), "results": []}
    if args.append and args.out.is_file():  # keep the rows of other cases from an earlier run
        report["results"] = json.loads(args.out.read_text())["results"]
    with tempfile.TemporaryDirectory(prefix="d3-speed-data-") as tmp:
        data = Path(tmp) / "synth.h5"
        DeepSTARR().synthesize(data, 4096, seed=0)
        for arch in args.archs:
            for preset in args.cases:
                for batch in batches[(arch, preset)]:
                    cache = Path(tmp) / f"inductor-{arch}-{preset}-{batch}"  # cold for a case's first compiled run
                    case_codes = [c for c in codes if not (c == "original" and arch == "Conv" and preset == "tiny")]
                    runs = {code: [] for code in case_codes}
                    loads = []
                    for round_index in range(args.rounds):
                        order = case_codes if round_index % 2 == 0 else case_codes[::-1]
                        for code in order:
                            loads.append(os.getloadavg()[0])
                            runs[code].append(_run_worker(args, code, arch, preset, batch, data, cache))
                            print(f"{arch} {preset} b{batch} {code} round {round_index}: "
                                  f"{statistics.median(runs[code][-1]['step_s']):.4f} s/step", flush=True)
                    report["results"] = [r for r in report["results"] if (r["arch"], r["preset"], r["batch"]) !=
                                         (arch, preset, batch)] + [_summary(arch, preset, batch, runs, loads, peak)]
                    _write(args.out, report)
    report["load_average_end"] = os.getloadavg()
    _write(args.out, report)
    return report


def _summary(arch: str, preset: str, batch: int, runs: dict, loads: list, peak: float | None) -> dict:
    flops = model_flops(arch, preset, 1) * batch  # every counted operation is linear in the batch
    row = {"arch": arch, "preset": preset, "batch": batch, "model_flops_per_step": flops,
           "load_average_min_max": [min(loads), max(loads)], "codes": {}}
    for code, measured in runs.items():
        per_round = [statistics.median(m["step_s"]) for m in measured]
        best = min(per_round)
        entry = {"seconds_per_step": round(best, 5), "per_round": [round(s, 5) for s in per_round],
                 "flops_per_second": round(flops / best), "first_step_s": [round(m["first_s"], 2) for m in measured]}
        if code == "d3-compiled":
            entry["compile_seconds_cold"] = round(measured[0]["first_s"] - per_round[0], 1)
            entry["compile_seconds_warm_cache"] = [round(m["first_s"] - s, 1) for m, s in zip(measured[1:],
                                                                                             per_round[1:])]
        if peak:
            entry["mfu"] = round(flops / best / peak, 4)
        row["codes"][code] = entry
    for code in runs:
        if code == "d3-eager":
            continue
        ratios = [a / b for a, b in zip(row["codes"][code]["per_round"], row["codes"]["d3-eager"]["per_round"])]
        row[f"{code}_over_eager_median"] = round(statistics.median(ratios), 3)
    if "original" in runs:
        for code in ("d3-eager", "d3-compiled"):
            ratios = [a / b for a, b in zip(row["codes"][code]["per_round"], row["codes"]["original"]["per_round"])]
            row[f"{code}_over_original_median"] = round(statistics.median(ratios), 3)
    return row


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def table(report: dict) -> str:
    """The markdown table of docs/performance.md."""
    unit = 1e12 if report["device"] == "cuda" else 1e9
    name = "TFLOP/s" if report["device"] == "cuda" else "GFLOP/s"
    lines = [f"| arch | preset | batch | GFLOP/step | eager s/step | compiled s/step | original s/step | compiled/eager "
             f"| eager/original | compiled/original | {name} eager / compiled / original | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["results"]:
        codes = row["codes"]

        def cell(code, key="seconds_per_step", scale=1.0, fmt="{:.3f}"):
            return fmt.format(codes[code][key] / scale) if code in codes else "n/a"

        rates = " / ".join(cell(c, "flops_per_second", unit, "{:.1f}") for c in ("d3-eager", "d3-compiled", "original"))
        lines.append(f"| {row['arch']} | {row['preset']} | {row['batch']} | {row['model_flops_per_step'] / 1e9:.1f} | "
                     f"{cell('d3-eager')} | {cell('d3-compiled')} | {cell('original')} | "
                     f"{row.get('d3-compiled_over_eager_median', 'n/a')} | "
                     f"{row.get('d3-eager_over_original_median', 'n/a')} | "
                     f"{row.get('d3-compiled_over_original_median', 'n/a')} | {rates} | "
                     f"{row['load_average_min_max'][0]:.1f}-{row['load_average_min_max'][1]:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="measure", choices=["measure", "table", "_worker"])
    parser.add_argument("--original", help="checkout of the original D3 code (its deps: $D3_ORIGINAL_DEPS)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cases", type=lambda s: s.split(","), default=["tiny", "paper"])
    parser.add_argument("--archs", type=lambda s: s.split(","), default=["Tran", "Conv"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default=None, help="default: 32-true on the CPU, bf16-mixed on CUDA")
    parser.add_argument("--threads", type=int, help="torch threads of every worker (default: torch's; 1 is steadier "
                                                     "on a machine shared with other jobs)")
    parser.add_argument("--timed", type=int, help="timed steps per process (default: 12 tiny, 3 paper)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak (default: the table, CUDA only)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--append", action="store_true", help="keep the other cases' rows of --out")
    parser.add_argument("--code"), parser.add_argument("--arch"), parser.add_argument("--preset")
    parser.add_argument("--batch", type=int), parser.add_argument("--data")
    args = parser.parse_args()
    args.precision = args.precision or ("bf16-mixed" if args.device == "cuda" else "32-true")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.timed:
        TIMED.update(dict.fromkeys(TIMED, args.timed))
    if args.mode == "_worker":
        result = original_worker(args) if args.code == "original" else d3_worker(args)
        print(json.dumps(result))
    elif args.mode == "table":
        print(table(json.loads(args.out.read_text())))
    else:
        report = measure(args)
        print(table(report))


if __name__ == "__main__":
    main()
