"""``d3 evaluate`` wall time on 1,000 and 10,000 sequences, per metric section, under the ``quick`` and ``paper``
protocols, with the original DeepSTARR oracle checkpoint (tests/fixtures/original_oracles).

Data: a synthesized DeepSTARR-layout file with 10 x N training rows (so the test split has N rows); "generated"
sequences are the test sequences with 20 % of their positions redrawn, paired with their test rows (as
``d3 sample --labels-from test`` writes them), so every metric runs, SP-MSE included. Sampling itself is not timed.

The paper protocol attributes the same maps whatever N (the top 1000 test rows, their designs and their shuffles:
3000 GradientShap maps), so ``--attributions-only-at 1000`` skips that section at the other sizes (the row says so)
when time is short; ``--append`` adds rows to an existing JSON file.

``--generated N`` evaluates only the first N designs against the whole reference (issue 31's case: 1,000 generated
vs a 10,000-row reference), and ``--cache`` runs each case twice with a fresh reference cache (:mod:`
d3core.evaluation.reference_cache`): ``cold`` (computed and stored) then ``warm`` (reused), one row each. The load
average of the shared machine is recorded with every row.

Usage: python benchmarks/evaluation.py [--sizes 1000 10000] [--protocols quick paper] [--out ...json]
       [--attributions-only-at N] [--append] [--generated N] [--cache]
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT / "tests" / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"


def make_inputs(folder: Path, n: int, generated_rows: int | None = None):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.generation import SampleSet

    dataset = DeepSTARR()
    data = folder / f"ds_{n}.h5"
    if not data.exists():
        dataset.synthesize(data, 10 * n, seed=0)
    test = dataset.open_split(data, "test")
    tokens, labels = (t.numpy() for t in test.read_batch(np.arange(len(test))))
    rng = np.random.default_rng(0)
    tokens, labels = tokens[:generated_rows], labels[:generated_rows]
    generated = tokens.astype(np.uint8).copy()
    redraw = rng.random(generated.shape) < 0.2
    generated[redraw] = rng.integers(0, 4, int(redraw.sum()))
    meta = {"dataset": "deepstarr", "data": str(data), "reference_split": "test", "arch": "Tran"}
    samples = SampleSet(generated, labels.astype(np.float32), ["dev", "hk"], np.arange(len(generated)), meta)
    return dataset, data, samples


def measure(n: int, protocol: str, folder: Path, attributions: bool = True, generated: int | None = None,
            cache: str = "off") -> dict:
    from d3core.evaluation.oracle import load_oracle
    from d3core.evaluation.protocols import protocol as get_protocol
    from d3core.evaluation.report import evaluate_samples

    dataset, data, samples = make_inputs(folder, n, generated)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    oracle = load_oracle(ORACLE)
    settings = get_protocol(protocol, attributions=None if attributions else False)
    extra = {"cache_dir": folder / "cache"} if cache != "off" else {}
    if cache != "off" and "cache_dir" not in inspect.signature(evaluate_samples).parameters:
        raise SystemExit("this d3core has no reference cache; run without --cache")
    result = evaluate_samples(samples, dataset, data, folder / f"eval_{protocol}_{n}", oracle=oracle,
                              protocol=settings, device="cpu", echo=lambda line: print(f"  {line}", flush=True),
                              **extra)
    seconds = time.perf_counter() - started
    return {"sequences": len(samples.tokens), "reference_rows": result["metrics"]["n_reference"],
            "protocol": protocol, "cache": cache, "seconds": round(seconds, 1),
            "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
            "attributions_run": attributions,
            "sections": result["inputs"]["timings"],
            "attribution_maps": 3 * result["inputs"].get("attribution", {}).get("sequences", 0),
            "discriminator_per_class": result["metrics"].get("auroc_n_per_class")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--protocols", nargs="+", default=["quick", "paper"])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "evaluation.json")
    parser.add_argument("--attributions-only-at", type=int, nargs="*", default=None)
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--generated", type=int, default=None, help="evaluate the first N designs only")
    parser.add_argument("--cache", action="store_true", help="cold then warm, with a fresh reference cache")
    parser.add_argument("--label", default=None, help="a name for these rows (e.g. before/after)")
    args = parser.parse_args()
    import torch

    rows = json.loads(args.out.read_text())["rows"] if args.append and args.out.exists() else []
    report = {"benchmark": "evaluation", "machine": {"cpu_threads": torch.get_num_threads(),
                                                     "python": platform.python_version(),
                                                     "torch": torch.__version__, "device": "cpu"},
              "oracle": str(ORACLE.relative_to(ROOT)), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="d3-bench-eval-") as tmp:
        for protocol in args.protocols:
            for n in args.sizes:
                print(f"{protocol} protocol, {n} sequences", flush=True)
                attributions = args.attributions_only_at is None or n in args.attributions_only_at
                for cache in ("cold", "warm") if args.cache else ("off",):
                    rows.append({"label": args.label, **measure(n, protocol, Path(tmp), attributions,
                                                                args.generated, cache)})
                    print(f"  -> {rows[-1]['seconds']} s ({cache})", flush=True)
                    args.out.write_text(json.dumps(report, indent=2) + "\n")  # after each row: partial runs keep data
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
