"""Population search (``d3 design --method evolve``) beside SVDD and SMC at three compute budgets, on planted truth.

Usage:
    python benchmarks/evolve.py [--task two-motifs|three-cells] [--work DIR] [--num 16] [--steps 32]
                                [--budgets 2 4 8] [--population 16] [--renoise 0.5] [--child-steps 1]
                                [--threads 2]

Tasks (each trained once into ``--work``, a folder per task, and reused):

- ``two-motifs`` (default): the setup of ``benchmarks/design.py`` (100 bp, Conv ``tiny``, a guide and a judge
  oracle); objective ``dev`` at the request dev = 1, hk = 0; the true activity of a design is its AP-1 count.
- ``three-cells``: the setup of ``benchmarks/specificity.py`` (120 bp; CEBP -> HepG2, GATA1 -> K562, OCT -> WTC11,
  SP1 and NRF1 raise all three); objective ``--specific-to HepG2`` (MinGap = HepG2 - max(K562, WTC11)) at the
  request HepG2 = 2, K562 = 0, WTC11 = 0; the true MinGap of a design comes from its motif counts times the effects.

Seed 0, ``--num`` designs. A budget M is what SVDD with M candidates spends on ``--num`` designs:
``num * M * steps`` oracle calls and ``num * (M + 1) * steps`` network rows (sequences x predictor steps); SMC with
K = M particles spends about the same. Evolve (P = ``--population``; its first population sampled in ``--steps``, each
child made in ``--child-steps``) gets as many rounds as fit in both SVDD's oracle calls and its network rows. Per row: the true objective, the judge's objective, bits per base
(16 draws of t), the 3-mer Jensen-Shannon distance to the validation sequences with the top quarter of the true
objective, and seconds per design (shared machine: compare ratios).

Results: ``benchmarks/results/evolve.json`` (two-motifs) or ``evolve_three_cells.json``, and the plot
``docs/images/evolve_budgets.png`` (or ``evolve_budgets_three_cells.png``).
"""
from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from design import AP1  # noqa: E402  (benchmarks/design.py: the shared planted-motif setup)
from design import setup as two_motif_setup  # noqa: E402
from design_bench import design_parser, parse, save  # noqa: E402  (the flags and results file they all share)
from specificity import mingap  # noqa: E402  (benchmarks/specificity.py: the three-cell setup)
from specificity import setup as three_cell_setup  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Task:
    """One planted-truth design task: what to ask, and how to score designs ``[N, L]`` -> ``[N]``."""

    manager: object
    checkpoint: Path
    guide: Path
    judge: Path
    objective: str
    request: str
    truth: Callable[[np.ndarray], np.ndarray]
    judged: Callable[[np.ndarray], np.ndarray]  # the judge's predictions [N, C] -> its objective [N]
    setup: str


def two_motifs(work: Path) -> Task:
    from d3core.evaluation.metrics import motif_counts

    manager, checkpoint, _, guide, judge = two_motif_setup(work)
    return Task(manager, checkpoint, guide, judge, "dev", "dev=1,hk=0", lambda tokens: motif_counts(tokens, AP1),
                lambda predicted: predicted[:, 0],
                "two-motifs (100 bp, 2000 rows), Conv tiny 400 steps, guide/judge oracles on halves (seeds 1/2)")


def three_cells(work: Path) -> Task:
    from d3core.testing.components import true_activity
    from d3core.testing.motifs import two_motif_manager

    _, checkpoint, guide, judge = three_cell_setup(work, 3000, 600)
    return Task(two_motif_manager(), checkpoint, guide, judge, "HepG2 - max(K562, WTC11)", "HepG2=2,K562=0,WTC11=0",
                lambda tokens: mingap(true_activity(tokens)), mingap,
                "three-cells (120 bp, 3000 rows), Conv tiny 600 steps, guide/judge oracles on halves (seeds 1/2)")


TASKS = {"two-motifs": two_motifs, "three-cells": three_cells}


def rounds_within(budget: int, num: int, steps: int, population: int, child_steps: int) -> int:
    """Evolve's rounds whose oracle calls and network rows both stay within SVDD's at M = ``budget``: the first
    population costs ``population`` calls and ``population * steps`` rows, every round ``population`` calls and
    ``population * child_steps`` rows."""
    by_rows = (num * (budget + 1) * steps - population * steps) // (population * child_steps)
    by_calls = (num * budget * steps - population) // population
    return max(0, min(by_rows, by_calls))


def measure(args) -> dict:
    from d3core.design import DesignSettings, design
    from d3core.design.evolve import EvolveSettings
    from d3core.design.measure import kmer_distance
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation.sampling_model import SamplingModel
    from d3core.scoring.inputs import read_split

    task = TASKS[args.task](Path(args.work))
    sm = SamplingModel.load(task.checkpoint, "cpu", manager=task.manager)
    guide, judge = (load_oracle(path, manager=task.manager) for path in (task.guide, task.judge))
    valid = read_split(sm, "valid")
    top = np.argsort(-task.truth(valid.tokens), kind="stable")[: len(valid.tokens) // 4]
    rows = sm.parse_labels([task.request])
    results = []
    for budget in args.budgets:
        rounds = rounds_within(budget, args.num, args.steps, args.population, args.child_steps)
        runs = {"svdd": dict(settings=DesignSettings("svdd", budget)),
                "smc": dict(settings=DesignSettings("smc", budget)),
                "evolve": dict(settings=DesignSettings("evolve"), evolve=EvolveSettings(
                    population=args.population, rounds=rounds, renoise=args.renoise, child_steps=args.child_steps))}
        for method, how in runs.items():
            started = time.perf_counter()
            designs = design(sm, guide, task.objective, rows, args.num, steps=args.steps, seed=0,
                             likelihood_samples=16, **how)
            seconds = time.perf_counter() - started
            meta = designs.metadata
            truth = task.truth(designs.tokens)
            row = {"budget_m": budget, "method": method, "num": args.num, "steps": args.steps,
                   "oracle_calls": meta.get("oracle_calls", args.num * budget * args.steps),
                   "network_rows": meta.get("network_rows", args.num * (budget + 1) * args.steps),
                   "rounds": rounds if method == "evolve" else None,
                   "true_objective": float(truth.mean()),
                   "true_objective_stderr": float(truth.std() / np.sqrt(len(truth))),
                   "judge_objective": float(task.judged(judge.predict(designs.tokens.astype(np.int64))).mean()),
                   "guide_objective": float(np.mean(designs.objective)),
                   "bits_per_base": float(designs.columns["bits_per_base"].mean()),
                   "kmer_js_k3": kmer_distance(designs.tokens, valid.tokens[top], 3),
                   "seconds_per_design": seconds / args.num}
            if method == "evolve":
                request = meta["evolve"]["requests"][0]
                row.update(archive_best=request["archive_best"], final_population_best=request["final_population_best"])
            results.append(row)
            print(json.dumps(row), flush=True)
    return {"benchmark": "evolve", "task": args.task, "machine": platform.platform(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "objective": task.objective, "request": task.request,
            "population": args.population, "renoise": args.renoise, "child_steps": args.child_steps,
            "setup": task.setup, "results": results}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in ("svdd", "smc", "evolve"):
        rows = [r for r in report["results"] if r["method"] == method]
        for ax, key in zip(axes, ("true_objective", "judge_objective")):
            ax.plot([r["bits_per_base"] for r in rows], [r[key] for r in rows], "o-", label=method)
            for r in rows:
                ax.annotate(f"M={r['budget_m']}", (r["bits_per_base"], r[key]), fontsize=7,
                            textcoords="offset points", xytext=(4, 2))
    axes[0].set_ylabel(f"true {report['objective']} (planted motifs)")
    axes[1].set_ylabel(f"judge's {report['objective']} (oracle that did not guide)")
    for ax in axes:
        ax.set_xlabel("likelihood bound, bits per base (lower = more likely)")
        ax.legend(fontsize=8)
    fig.suptitle(f"d3 design ({report['task']}): svdd, smc and evolve at the oracle calls and network rows of SVDD "
                 "with M candidates")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = design_parser(__doc__, work="d3-bench-design", num=16, steps=32)
    parser.add_argument("--task", choices=sorted(TASKS), default="two-motifs")
    parser.add_argument("--budgets", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--renoise", type=float, default=0.5)
    parser.add_argument("--child-steps", type=int, default=1)
    args = parse(parser, argv)
    suffix = "" if args.task == "two-motifs" else "_" + args.task.replace("-", "_")
    if args.task != "two-motifs" and args.work == parser.get_default("work"):
        args.work = args.work.with_name(f"d3-bench-{args.task}")
    return save(measure(args), ROOT / "benchmarks" / "results" / f"evolve{suffix}.json", plot,
                ROOT / "docs" / "images" / f"evolve_budgets{suffix}.png")


if __name__ == "__main__":
    sys.exit(main())
