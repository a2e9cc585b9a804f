"""Training speed, paired: d3's step (eager and compiled) and the original D3 code's step, alternating step by step
within one process, so that a shared machine's slow minutes slow all three alike.

``training_speed.py`` times ``d3 train`` itself (a real Trainer, one process per measurement); on a machine whose
speed drifts by tens of percent from minute to minute, its per-process rounds scatter as much. Here each case is one
process holding the three steps at once, and the steps of each triple are timed back to back in rotating order; the
ratios within the triples are reported with their median and quartiles. Each triple also times one large matrix
product (:func:`matmul_rate`), the machine's practical peak at that minute: ``model FLOPs / that rate`` is the step's
floor (no code at these FLOPs is faster), and ``FLOP/s / that rate`` the fraction of it a step reaches.

d3's step is the runner's work without Lightning's loop (``benchmarks/training_overhead.py`` measures that loop at
no cost): SEDD loss, backward, gradient clipping, the AdamW kernels ``d3 train`` picks for the device
(``adamw_kernels``), the foreach EMA. The compiled step is the same network through ``training.compile``'s own
``compiled_network``. The original's step is its ``losses.get_step_fn`` (see ``training_speed.py``).

Usage:
    python benchmarks/training_speed_paired.py --original PATH [--cases Tran:tiny:32,Tran:paper:8] [--triples 6]

Results: ``benchmarks/results/training_speed_paired.json``; docs/performance.md has the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import training_speed as single  # noqa: E402  (the shared network, FLOP and original-code helpers)

RESULTS = single.ROOT / "benchmarks" / "results" / "training_speed_paired.json"
DEFAULT_CASES = "Tran:tiny:32,Tran:tiny:128,Tran:paper:4,Tran:paper:8,Conv:paper:8,Conv:paper:32"
WARMUP_STEPS = 2


def matmul_rate() -> float:
    """FLOP/s of one large fp32 matrix product on the CPU -- Tran paper's MLP shape at batch 8, ``[8 x 249, 768] x
    [768, 3072]``, best of 10 after a warm-up: the practical peak of this machine's BLAS at this minute. ``model FLOPs
    / this`` is the step time if everything but the matrix products took no time: the floor no code reaches at these
    FLOPs."""
    a, b = torch.randn(8 * single.LENGTH, 768), torch.randn(768, 3072)
    best = float("inf")
    for repeat in range(12):
        start = time.perf_counter()
        a @ b
        if repeat >= 2:
            best = min(best, time.perf_counter() - start)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / best


def d3_steps(arch: str, preset: str, tokens, labels) -> dict:
    """``{"d3-eager": step, "d3-compiled": step}``: one optimizer step each of d3's training work, on one network,
    with the optimizer settings the original's step gets (:func:`training_speed.original_config`)."""
    from d3core.checkpoints.optimizer import adamw_kernels, build_optimizer
    from d3core.diffusion import ExponentialMovingAverage, GeometricNoise, UniformGraph, sedd_loss
    from d3core.training.compile import compiled_network

    config = single.original_config(arch, preset)
    network = single._d3_network(arch, preset).train()
    compiled = compiled_network(network)
    graph, noise = UniformGraph(4), GeometricNoise()
    clip = float(config.optim.grad_clip)
    optimizer = build_optimizer(network.parameters(), config.optim, kernels=adamw_kernels("cpu", grad_clip=clip))
    ema = ExponentialMovingAverage(network, decay=float(config.training.ema))

    def step(forward) -> None:
        loss = sedd_loss(forward, graph, noise, tokens, labels).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), clip)
        optimizer.step()
        ema.update(network)

    return {"d3-eager": lambda: step(network), "d3-compiled": lambda: step(compiled)}


def measure_case(args) -> dict:
    """The triples of one (arch, preset, batch), in this process."""
    torch.manual_seed(0)
    tokens = torch.randint(0, 4, (args.batch, single.LENGTH))
    labels = torch.randn(args.batch, single.NUM_LABELS)
    steps = d3_steps(args.arch, args.preset, tokens, labels)
    if args.original and not (args.arch == "Conv" and args.preset == "tiny"):  # its Conv is paper-sized only
        original = single.original_step(Path(args.original), args.arch, args.preset)
        steps["original"] = lambda: original(tokens, labels)
    first = {}
    for code, step in steps.items():
        start = time.perf_counter()
        step()
        first[code] = time.perf_counter() - start
        for _ in range(WARMUP_STEPS - 1):
            step()
    times = {code: [] for code in steps}
    codes = list(steps)
    matmul_rates = []
    for triple in range(args.triples):
        order = codes[triple % len(codes):] + codes[:triple % len(codes)]
        for code in order:
            start = time.perf_counter()
            steps[code]()
            times[code].append(time.perf_counter() - start)
        matmul_rates.append(matmul_rate())
    return {"first_step_s": first, "step_s": times, "matmul_flops_per_second": matmul_rates}


def summarize(arch: str, preset: str, batch: int, measured: dict) -> dict:
    times, rates = measured["step_s"], measured["matmul_flops_per_second"]
    flops = single.model_flops(arch, preset, 1) * batch
    floors = [flops / rate for rate in rates]  # per triple: the floor at that minute's matrix-product rate
    row = {"arch": arch, "preset": preset, "batch": batch, "model_flops_per_step": flops,
           "matmul_flops_per_second_median": round(statistics.median(rates)),
           "matmul_floor_s": round(statistics.median(floors), 5),
           "seconds_per_step_median": {code: round(statistics.median(t), 5) for code, t in times.items()},
           "fraction_of_matmul_rate": {code: round(statistics.median(f / t for f, t in zip(floors, times[code])), 3)
                                       for code in times},
           "compile_seconds": round(measured["first_step_s"]["d3-compiled"] - statistics.median(times["d3-compiled"]),
                                    1),
           "ratios": {}}
    pairs = [("d3-compiled", "d3-eager")] + [(code, "original") for code in ("d3-eager", "d3-compiled")
                                             if "original" in times]
    for top, bottom in pairs:
        ratios = sorted(a / b for a, b in zip(times[top], times[bottom]))
        quartiles = statistics.quantiles(ratios, n=4)
        row["ratios"][f"{top}/{bottom}"] = {"median": round(statistics.median(ratios), 3),
                                            "quartiles": [round(quartiles[0], 3), round(quartiles[2], 3)]}
    if "original" in times:
        row["ratios"]["matmul_floor/original"] = round(statistics.median(f / t for f, t in zip(floors,
                                                                                             times["original"])), 3)
    return row


def table(report: dict) -> str:
    """The markdown table of docs/performance.md."""
    lines = ["| arch | preset | batch | GFLOP/step | eager s | compiled s | original s | compiled/eager | "
             "eager/original | compiled/original | matmul floor s (/ original) | of the matmul rate: eager / compiled "
             "/ original | compile s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["results"]:
        seconds, ratios = row["seconds_per_step_median"], row["ratios"]

        def ratio(key):
            if key not in ratios:
                return "n/a"
            return f"{ratios[key]['median']} [{ratios[key]['quartiles'][0]}, {ratios[key]['quartiles'][1]}]"

        floor = f"{row['matmul_floor_s']:.3f}" + (f" ({ratios['matmul_floor/original']})"
                                                 if "matmul_floor/original" in ratios else "")
        original = f"{seconds['original']:.3f}" if "original" in seconds else "n/a"
        fractions = " / ".join(f"{row['fraction_of_matmul_rate'][code]:.2f}" if code in seconds else "n/a"
                               for code in ("d3-eager", "d3-compiled", "original"))
        lines.append(f"| {row['arch']} | {row['preset']} | {row['batch']} | {row['model_flops_per_step'] / 1e9:.1f} | "
                     f"{seconds['d3-eager']:.3f} | {seconds['d3-compiled']:.3f} | {original} | "
                     f"{ratio('d3-compiled/d3-eager')} | {ratio('d3-eager/original')} | "
                     f"{ratio('d3-compiled/original')} | {floor} | {fractions} | {row['compile_seconds']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="measure", choices=["measure", "table", "_case"])
    parser.add_argument("--original", help="checkout of the original D3 code (its deps: $D3_ORIGINAL_DEPS)")
    parser.add_argument("--cases", default=DEFAULT_CASES, help="arch:preset:batch,... (default: %(default)s)")
    parser.add_argument("--triples", type=int, default=6, help="timed steps of each code per case")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--arch"), parser.add_argument("--preset"), parser.add_argument("--batch", type=int)
    args = parser.parse_args()
    if args.mode == "_case":
        print(json.dumps(measure_case(args)))
        return
    if args.mode == "table":
        print(table(json.loads(args.out.read_text())))
        return
    report = {"benchmark": "training_speed_paired", "device": "cpu", "precision": "32-true",
              "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
              "triples": args.triples, "warmup_steps": WARMUP_STEPS, "load_average_start": os.getloadavg(),
              "results": []}
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                       os.environ.get("D3_ORIGINAL_DEPS")]))}
    for case in args.cases.split(","):
        arch, preset, batch = case.split(":")
        command = [sys.executable, __file__, "_case", "--arch", arch, "--preset", preset, "--batch", batch,
                   "--triples", str(args.triples)] + (["--original", args.original] if args.original else [])
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"{case} failed:\n{done.stderr[-3000:]}")
        row = summarize(arch, preset, int(batch), json.loads(done.stdout.strip().splitlines()[-1]))
        report["results"].append(row)
        print(f"{case}: {row['seconds_per_step_median']} {row['ratios']}", flush=True)
        report["load_average_end"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))


if __name__ == "__main__":
    main()
