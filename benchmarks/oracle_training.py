"""``d3 oracle train`` seconds per epoch: the DeepSTARR oracle on a synthesized file with 10,000 training rows,
CPU, batch 128, a fixed number of epochs (early stopping off for the measurement).

Seconds per epoch are the times between the per-epoch lines (training and validation of one epoch); the first epoch
(warm-up) is reported apart. The load average of the shared machine is recorded.

Usage: python benchmarks/oracle_training.py [--rows 10000] [--epochs 3] [--label before|after] [--append]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def measure(rows: int, epochs: int, folder: Path) -> dict:
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.oracle_training import train_oracle

    dataset = DeepSTARR()
    data = folder / "ds.h5"
    dataset.synthesize(data, rows, seed=0)
    stamps: list[float] = []
    load = os.getloadavg()[0]
    started = time.perf_counter()
    _, metrics = train_oracle(dataset, data, folder / "o.ckpt", max_epochs=epochs, patience=epochs + 1,
                              accelerator="cpu", echo=lambda line: stamps.append(time.perf_counter()))
    total = time.perf_counter() - started
    per_epoch = [b - a for a, b in zip([started] + stamps[:-1], stamps)]
    return {"train_rows": metrics["train_rows"], "epochs": len(per_epoch), "seconds_total": round(total, 1),
            "seconds_first_epoch": round(per_epoch[0], 2),
            "seconds_per_epoch_after_first": round(sum(per_epoch[1:]) / max(1, len(per_epoch) - 1), 2),
            "seconds_after_training": round(total - (stamps[-1] - started), 2),
            "test_rows": metrics["test_rows"], "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--label", default=None)
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "oracle_training.json")
    args = parser.parse_args()
    import torch

    rows = json.loads(args.out.read_text())["rows"] if args.append and args.out.exists() else []
    with tempfile.TemporaryDirectory(prefix="d3-bench-oracle-") as tmp:
        rows.append({"label": args.label, **measure(args.rows, args.epochs, Path(tmp))})
    report = {"benchmark": "oracle_training", "machine": {"cpu_threads": torch.get_num_threads(),
                                                         "python": platform.python_version(),
                                                         "torch": torch.__version__, "device": "cpu"},
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
