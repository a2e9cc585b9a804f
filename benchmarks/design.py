"""Oracle-guided design (``d3 design``): activity against naturalness and time, for M candidates and two temperatures.

Usage:
    python benchmarks/design.py [--work DIR] [--num 16] [--steps 32] [--candidates 1 2 4 8 16]
                                [--temperatures 0 0.05] [--threads 2] [--add]

Setup (trained once into ``--work``, default ``$TMPDIR/d3-bench-design``, reused when it is there; see
:mod:`d3core.testing.motifs`): the ``two-motifs`` data of the conditioning tests (100 bp; AP-1 drives ``dev``, Dref
drives ``hk``; 2000 training rows), Conv ``tiny`` trained 400 steps with label dropout 0.1, and two small oracle CNNs
fitted by ``d3 oracle train`` on different random halves of the training rows (seeds 1 and 2, ``--train-fraction
0.5``): the *guide* steers, the *judge* measures. For every M and temperature,
``--num`` designs for the objective ``dev`` at the request dev = 1, hk = 0 (seed 0, ``--steps`` steps) record:

- ``true_dev``: AP-1 sites per design (the generator's rule: the true activity), ``true_hk`` likewise for Dref;
- ``guide_dev``, ``judge_dev``: the oracles' mean predictions;
- ``bits_per_base``: the likelihood bound under the model (16 draws of t; lower = more likely);
- ``kmer_js_k3``/``k6``: Jensen-Shannon distance (base 2) to the validation sequences with the top quarter of true dev,
  with the real-vs-real baseline of the same size (``real``);
- ``nearest_identity``: mean identity to the nearest of the training sequences (memorisation);
- ``seconds_per_design``: wall time of the design run divided by ``--num`` (the machine is shared: compare ratios).

Results: ``benchmarks/results/design.json`` and the frontier plot ``docs/images/design_frontier.png`` (true activity
against likelihood, one line per temperature, M along it).
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from design_bench import design_parser, parse, save  # noqa: E402  (the flags and results file they all share)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "design.json"
PLOT = ROOT / "docs" / "images" / "design_frontier.png"
AP1, DREF = "TGASTCA", "TATCGATA"


def setup(work: Path):
    """``(manager, checkpoint, data, guide, judge)``, trained into ``work`` unless already there."""
    from d3core.testing.motifs import in_process_d3, train_guide_and_judge, train_two_motif_model, two_motif_manager

    manager = two_motif_manager()
    d3 = in_process_d3(manager)
    checkpoint, data = train_two_motif_model(work, d3)
    return (manager, checkpoint, data, *train_guide_and_judge(work, d3, data))


def measure(args) -> dict:
    from d3core.design import DesignSettings, design
    from d3core.design.measure import kmer_distance, nearest_identity
    from d3core.evaluation.metrics import motif_counts
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation.sampling_model import SamplingModel
    from d3core.scoring.inputs import read_split

    manager, ckpt, data, guide_path, judge_path = setup(Path(args.work))
    sm = SamplingModel.load(ckpt, "cpu", manager=manager)
    guide, judge = load_oracle(guide_path), load_oracle(judge_path)
    valid, train = read_split(sm, "valid"), read_split(sm, "train")
    true_valid = motif_counts(valid.tokens, AP1)
    order = np.argsort(-true_valid, kind="stable")
    top, rest = order[: len(order) // 4], order[len(order) // 4:]
    baseline_rows = np.random.default_rng(0).permutation(rest)[: args.num]
    rows = sm.parse_labels(["dev=1,hk=0"])
    plain, results = None, []
    for temperature in args.temperatures:
        for m in args.candidates:
            if m == 1 and plain is not None:  # one candidate is plain sampling at any temperature: measured once
                results.append({**plain, "temperature": temperature})
                continue
            started = time.perf_counter()
            designs = design(sm, guide, "dev", rows, args.num, steps=args.steps, seed=0, likelihood_samples=16,
                             settings=DesignSettings("svdd", m, temperature))
            seconds = time.perf_counter() - started
            judged = judge.predict(designs.tokens.astype(np.int64))
            row = {"candidates": m, "temperature": temperature, "num": args.num, "steps": args.steps,
                   "true_dev": float(motif_counts(designs.tokens, AP1).mean()),
                   "true_hk": float(motif_counts(designs.tokens, DREF).mean()),
                   "guide_dev": float(designs.predictions[:, 0].mean()), "judge_dev": float(judged[:, 0].mean()),
                   "judge_hk": float(judged[:, 1].mean()),
                   "bits_per_base": float(designs.columns["bits_per_base"].mean()),
                   "kmer_js_k3": kmer_distance(designs.tokens, valid.tokens[top], 3),
                   "kmer_js_k6": kmer_distance(designs.tokens, valid.tokens[top], 6),
                   "nearest_identity": float(nearest_identity(designs.tokens, train.tokens).mean()),
                   "seconds_per_design": seconds / args.num}
            plain = row if m == 1 else plain
            results.append(row)
            print(json.dumps(row), flush=True)
    real = {"true_dev_top_quarter": float(true_valid[top].mean()), "true_dev_all": float(true_valid.mean()),
            "kmer_js_k3": kmer_distance(valid.tokens[baseline_rows], valid.tokens[top], 3),
            "kmer_js_k6": kmer_distance(valid.tokens[baseline_rows], valid.tokens[top], 6),
            "nearest_identity": float(nearest_identity(valid.tokens, train.tokens).mean())}
    return {"benchmark": "design", "machine": platform.platform(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "objective": "dev", "request": "dev=1,hk=0", "method": "svdd",
            "setup": "two-motifs (100 bp, 2000 rows), Conv tiny 400 steps, guide/judge oracles on halves (seeds 1/2)",
            "real": real, "results": results}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for temperature in sorted({r["temperature"] for r in report["results"]}):
        rows = [r for r in report["results"] if r["temperature"] == temperature]
        for ax, key in zip(axes, ("true_dev", "judge_dev")):
            x, y = [r["bits_per_base"] for r in rows], [r[key] for r in rows]
            ax.plot(x, y, "o-", label=f"temperature {temperature:g}")
            for r in rows:
                ax.annotate(f"M={r['candidates']}", (r["bits_per_base"], r[key]), fontsize=7,
                            textcoords="offset points", xytext=(4, 2))
    axes[0].axhline(report["real"]["true_dev_top_quarter"], color="grey", linestyle="--",
                    label="real: top quarter")
    axes[0].set_ylabel("true dev activity (AP-1 sites per design)")
    axes[1].set_ylabel("judge-predicted dev (oracle that did not guide)")
    for ax in axes:
        ax.set_xlabel("likelihood bound, bits per base (lower = more likely)")
        ax.legend(fontsize=8)
    fig.suptitle(f"d3 design (svdd, objective dev): activity against naturalness, {report['results'][0]['num']} "
                 "designs per point")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = design_parser(__doc__, work="d3-bench-design", num=16, steps=32)
    parser.add_argument("--candidates", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.0, 0.05])
    parser.add_argument("--add", action="store_true",
                        help="keep the rows of other temperatures already in the results file (add a temperature)")
    args = parse(parser, argv)
    report = measure(args)
    if args.add and RESULTS.is_file():
        earlier = json.loads(RESULTS.read_text())
        kept = [r for r in earlier["results"] if r["temperature"] not in args.temperatures]
        report["results"] = sorted(kept + report["results"], key=lambda r: (r["temperature"], r["candidates"]))
    return save(report, RESULTS, plot, PLOT)


if __name__ == "__main__":
    sys.exit(main())
