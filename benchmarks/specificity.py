"""Cell-type-specific design (``d3 design --specific-to``) with and without synthesis rules, on planted truth.

Usage:
    python benchmarks/specificity.py [--work DIR] [--num 32] [--steps 40] [--candidates 8] [--rows 3000]
                                     [--train-steps 600] [--threads 2]

Setup (trained once into ``--work``, default ``$TMPDIR/d3-bench-specificity``, reused when there; see
:mod:`d3core.testing.motifs`): the ``three-cells`` data (120 bp; a motif of its own per cell type -- CEBP -> HepG2,
GATA1 -> K562, OCT -> WTC11 -- and two generic activators, SP1 and NRF1, that raise all three), Conv ``tiny``
trained with label dropout 0.1, and two small oracle CNNs fitted on different random halves of the training rows (the
*guide* steers, the *judge* measures). Every row designs ``--num`` sequences for HepG2 at the request
HepG2 = 2, K562 = 0, WTC11 = 0 (seed 0):

- ``plain``: conditional sampling, no oracle (``--method none``);
- ``activity``: SVDD on the objective ``HepG2`` (activity only);
- ``specific``: SVDD on ``--specific-to HepG2`` (MinGap = HepG2 - max(K562, WTC11));
- ``specific+rules``: the same with ``--gc 0.40:0.60 --max-homopolymer 5 --avoid BsaI --avoid BsmBI``.

With ``--pool N``, also a pool of N designs written as constructs (the lentiMPRA adapters the ``three-cells``
dataset declares) under those rules (SVDD M = 2, 24 steps, no likelihood: the settings of a large order), audited
with an independent checker (dnachisel): how many were written, how many pass, seconds per design.

Recorded per row: the *true* activity per cell type (motif counts x effects, the generator's rule) and true MinGap,
the judge's and the guide's MinGap, bits per base, GC, the longest homopolymer, how many designs meet the rules, and
seconds per design (the machine is shared: compare ratios). Results: ``benchmarks/results/specificity.json`` and the
plot ``docs/images/specificity_frontier.png`` (true MinGap against likelihood).
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from design_bench import design_parser, parse, save  # noqa: E402  (the flags and results file they all share)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "specificity.json"
PLOT = ROOT / "docs" / "images" / "specificity_frontier.png"
REQUEST = "HepG2=2,K562=0,WTC11=0"
RULES = ("--gc", "0.40:0.60", "--max-homopolymer", "5", "--avoid", "BsaI", "--avoid", "BsmBI")
ROWS = {"plain": ("--objective", "HepG2", "--method", "none"),
        "activity": ("--objective", "HepG2"),
        "specific": ("--specific-to", "HepG2"),
        "specific+rules": ("--specific-to", "HepG2", *RULES)}


def setup(work: Path, rows: int, train_steps: int):
    """``(d3, checkpoint, guide, judge)``, trained into ``work`` unless already there."""
    from d3core.testing.motifs import in_process_d3, train_guide_and_judge, train_two_motif_model, two_motif_manager

    d3 = in_process_d3(two_motif_manager())
    checkpoint, data = train_two_motif_model(work, d3, steps=train_steps, dataset="three-cells", rows=rows)
    return (d3, checkpoint, *train_guide_and_judge(work, d3, data, dataset="three-cells"))


def mingap(values: np.ndarray) -> np.ndarray:
    """``[N]`` HepG2 minus the largest of K562 and WTC11, for activities ``[N, 3]`` in that order."""
    return values[:, 0] - values[:, 1:].max(axis=1)


def measure(args) -> dict:
    from d3core.design import read_designs
    from d3core.generation.constraints import rules_from_flags
    from d3core.testing.components import true_activity

    d3, checkpoint, guide, judge = setup(args.work, args.rows, args.train_steps)
    rules = rules_from_flags("0.40:0.60", 5, ("BsaI", "BsmBI"))
    results = {}
    for name, extra in ROWS.items():
        out = args.work / f"{name.replace('+', '_')}.npz"
        candidates = () if "none" in extra else ("--candidates", args.candidates)
        started = time.perf_counter()
        d3("design", checkpoint, "--oracle", guide, "--judge", judge, "--labels", REQUEST, "--num", args.num,
           "--steps", args.steps, "--seed", 0, "--no-progress", "--force", "-o", out, *candidates, *extra)
        seconds = time.perf_counter() - started
        designs = read_designs(out)
        truth = true_activity(designs.tokens)
        judged = np.stack([designs.columns[f"judge:{c}"] for c in ("HepG2", "K562", "WTC11")], axis=1)
        guided = designs.predictions[:, [designs.prediction_names.index(c) for c in ("HepG2", "K562", "WTC11")]]
        results[name] = {
            "designs": len(designs),
            "true_mingap": float(mingap(truth).mean()), "true_mingap_stderr": float(mingap(truth).std() /
                                                                                    np.sqrt(len(truth))),
            "true_hepg2": float(truth[:, 0].mean()), "true_k562": float(truth[:, 1].mean()),
            "true_wtc11": float(truth[:, 2].mean()),
            "judge_mingap": float(mingap(judged).mean()), "guide_mingap": float(mingap(guided).mean()),
            "bits_per_base": float(designs.columns["bits_per_base"].mean()),
            "gc": float(designs.columns["gc"].mean()),
            "longest_homopolymer_max": int(designs.columns["longest_homopolymer"].max()),
            "meet_rules": int(sum(not p for p in rules.problems(designs.tokens))),
            "left_out_by_rules": int((designs.metadata.get("synthesis") or {}).get("failed", 0)),
            "seconds_per_design": seconds / max(args.num, 1)}
        print(name, json.dumps(results[name]), flush=True)
    return results


def audit_pool(args) -> dict:
    """``--pool N`` constructs under the rules, checked by dnachisel (GC window on the construct, no 6-long runs, no
    BsaI/BsmBI site on either strand)."""
    import dnachisel as dc

    from d3core.testing.components import true_activity

    d3, checkpoint, guide, judge = setup(args.work, args.rows, args.train_steps)
    out = args.work / "pool.fasta"
    started = time.perf_counter()
    d3("design", checkpoint, "--oracle", guide, "--judge", judge, "--specific-to", "HepG2", "--labels", REQUEST,
       "--num", args.pool, "--steps", 24, "--candidates", 2, "--likelihood-samples", 0, "--constructs", *RULES,
       "--seed", 0, "--no-progress", "--force", "-o", out)
    seconds = time.perf_counter() - started
    sequences = [r.split("\n", 1)[1].replace("\n", "") for r in out.read_text().split(">")[1:]]
    constraints = [dc.EnforceGCContent(mini=0.40, maxi=0.60), dc.AvoidPattern("BsaI_site"),
                   dc.AvoidPattern("BsmBI_site"), *(dc.AvoidPattern(f"6x{base}") for base in "ACGT")]
    passing = sum(all(e.passes for e in dc.DnaOptimizationProblem(sequence=s, constraints=constraints,
                                                                  logger=None).constraints_evaluations())
                  for s in sequences)
    elements = np.array([["ACGT".index(c) for c in s[15:-15]] for s in sequences], dtype=np.uint8)
    truth = true_activity(elements)
    return {"requested": args.pool, "written": len(sequences), "pass_dnachisel": int(passing),
            "true_mingap": float(mingap(truth).mean()), "seconds_per_design": seconds / max(args.pool, 1)}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for name, row in results.items():
        ax.errorbar(row["bits_per_base"], row["true_mingap"], yerr=row["true_mingap_stderr"], fmt="o", capsize=3)
        ax.annotate(name, (row["bits_per_base"], row["true_mingap"]), textcoords="offset points", xytext=(5, 5),
                    fontsize=8)
    ax.set_xlabel("likelihood bound, bits per base (lower = more likely)")
    ax.set_ylabel("true MinGap for HepG2 (planted motifs)")
    ax.set_title("Cell-type specificity against naturalness")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = design_parser(__doc__, work="d3-bench-specificity", num=32, steps=40)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--pool", type=int, default=0, help="also audit a pool of N constructs (0: skip)")
    parser.add_argument("--pool-only", action="store_true", help="only the pool; keep the other rows' results")
    args = parse(parser, argv)
    if args.pool_only:
        report = json.loads(RESULTS.read_text())
        report["pool"] = audit_pool(args)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["pool"]))
        return 0
    results = measure(args)
    report = {"benchmark": "specificity", "machine": platform.platform(), "threads": args.threads,
              "num": args.num, "steps": args.steps, "candidates": args.candidates, "request": REQUEST,
              "rules": " ".join(RULES), "results": results}
    if args.pool:
        report["pool"] = audit_pool(args)
    return save(report, RESULTS, plot, PLOT, plotted=results)


if __name__ == "__main__":
    raise SystemExit(main())
