"""Population search (``d3 design --method evolve``) beside SVDD and SMC at three compute budgets, on planted truth.

Usage:
    python benchmarks/evolve.py [--work DIR] [--num 16] [--steps 32] [--budgets 2 4 8] [--population 16]
                                [--renoise 0.2] [--threads 2]

Setup: that of ``benchmarks/design.py`` (two-motifs data, Conv ``tiny``, a guide and a judge oracle; trained once into
``--work``). Objective ``dev`` at the request dev = 1, hk = 0, seed 0, ``--num`` designs. A budget M is what SVDD with
M candidates spends on ``--num`` designs: ``num * M * steps`` oracle calls and ``num * (M + 1) * steps`` network rows
(sequences x predictor steps); SMC with K = M particles spends about the same. Evolve (P = ``--population``) gets as
many rounds as fit in the same network rows (its oracle calls, P per round, stay far below). Per row: the true
activity (AP-1 sites per design), the judge's dev, bits per base (16 draws of t), the 3-mer Jensen-Shannon distance
to the validation sequences with the top quarter of true dev, and seconds per design (shared machine: compare ratios).

Results: ``benchmarks/results/evolve.json`` and ``docs/images/evolve_budgets.png``.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from design import AP1, setup  # noqa: E402  (benchmarks/design.py: the shared planted-motif setup)
from design_bench import design_parser, parse, save  # noqa: E402  (the flags and results file they all share)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "evolve.json"
PLOT = ROOT / "docs" / "images" / "evolve_budgets.png"


def rounds_within(budget: int, num: int, steps: int, population: int, renoise: float) -> int:
    """Evolve's rounds whose network rows stay within SVDD's at M = ``budget``."""
    per_round = population * max(1, math.ceil(renoise * steps))
    return max(0, (num * (budget + 1) * steps - population * steps) // per_round)


def measure(args) -> dict:
    from d3core.design import DesignSettings, design
    from d3core.design.evolve import EvolveSettings
    from d3core.design.measure import kmer_distance
    from d3core.evaluation.metrics import motif_counts
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation.sampling_model import SamplingModel
    from d3core.scoring.inputs import read_split

    manager, ckpt, _, guide_path, judge_path = setup(Path(args.work))
    sm = SamplingModel.load(ckpt, "cpu", manager=manager)
    guide, judge = (load_oracle(path, manager=manager) for path in (guide_path, judge_path))
    valid = read_split(sm, "valid")
    top = np.argsort(-motif_counts(valid.tokens, AP1), kind="stable")[: len(valid.tokens) // 4]
    rows = sm.parse_labels(["dev=1,hk=0"])
    results = []
    for budget in args.budgets:
        rounds = rounds_within(budget, args.num, args.steps, args.population, args.renoise)
        runs = {"svdd": dict(settings=DesignSettings("svdd", budget)),
                "smc": dict(settings=DesignSettings("smc", budget)),
                "evolve": dict(settings=DesignSettings("evolve"), evolve=EvolveSettings(
                    population=args.population, rounds=rounds, renoise=args.renoise))}
        for method, how in runs.items():
            started = time.perf_counter()
            designs = design(sm, guide, "dev", rows, args.num, steps=args.steps, seed=0, likelihood_samples=16, **how)
            seconds = time.perf_counter() - started
            meta = designs.metadata
            row = {"budget_m": budget, "method": method, "num": args.num, "steps": args.steps,
                   "oracle_calls": meta.get("oracle_calls", args.num * budget * args.steps),
                   "network_rows": meta.get("network_rows", args.num * (budget + 1) * args.steps),
                   "rounds": rounds if method == "evolve" else None,
                   "true_dev": float(motif_counts(designs.tokens, AP1).mean()),
                   "judge_dev": float(judge.predict(designs.tokens.astype(np.int64))[:, 0].mean()),
                   "guide_dev": float(designs.predictions[:, 0].mean()),
                   "bits_per_base": float(designs.columns["bits_per_base"].mean()),
                   "kmer_js_k3": kmer_distance(designs.tokens, valid.tokens[top], 3),
                   "seconds_per_design": seconds / args.num}
            if method == "evolve":
                request = meta["evolve"]["requests"][0]
                row.update(archive_best=request["archive_best"], final_population_best=request["final_population_best"])
            results.append(row)
            print(json.dumps(row), flush=True)
    return {"benchmark": "evolve", "machine": platform.platform(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "objective": "dev", "request": "dev=1,hk=0",
            "population": args.population, "renoise": args.renoise,
            "setup": "two-motifs (100 bp, 2000 rows), Conv tiny 400 steps, guide/judge oracles on halves (seeds 1/2)",
            "results": results}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in ("svdd", "smc", "evolve"):
        rows = [r for r in report["results"] if r["method"] == method]
        for ax, key in zip(axes, ("true_dev", "judge_dev")):
            ax.plot([r["bits_per_base"] for r in rows], [r[key] for r in rows], "o-", label=method)
            for r in rows:
                ax.annotate(f"M={r['budget_m']}", (r["bits_per_base"], r[key]), fontsize=7,
                            textcoords="offset points", xytext=(4, 2))
    axes[0].set_ylabel("true dev activity (AP-1 sites per design)")
    axes[1].set_ylabel("judge-predicted dev (oracle that did not guide)")
    for ax in axes:
        ax.set_xlabel("likelihood bound, bits per base (lower = more likely)")
        ax.legend(fontsize=8)
    fig.suptitle("d3 design: svdd, smc and evolve at the network rows of SVDD with M candidates")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = design_parser(__doc__, work="d3-bench-design", num=16, steps=32)
    parser.add_argument("--budgets", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--renoise", type=float, default=0.2)
    return save(measure(parse(parser, argv)), RESULTS, plot, PLOT)


if __name__ == "__main__":
    sys.exit(main())
