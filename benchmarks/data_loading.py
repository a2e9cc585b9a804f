"""Data-loading benchmark: one epoch of a synthetic 400k x 249 DeepSTARR-layout file through a DataLoader.

    python benchmarks/data_loading.py        # 400k rows, batch 256, uint8 and float32 files (0.5 + 1.8 GiB of
                                             # temporary disk), workers 0 and 2, both collate functions -> JSON
    python benchmarks/data_loading.py --rows 50000 --workers 0 --x-dtype uint8 --out /tmp/r.json

Each measurement runs in a fresh subprocess so its peak RSS is its own: ``VmHWM`` of the loading process, and of its
largest DataLoader worker (read from /proc while the persistent workers are alive). ``rss_before_mb`` is the RSS after
the imports and the dataset construction, before the first batch: ``peak - before`` is what iterating the whole file
cost.
The file is written once per dtype (``d3 data synth`` code path) into ``--dir`` (default: a temporary folder, deleted).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status_mb(field: str, pid: int | str = "self") -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak) of a process from /proc, in MiB.

    ``VmHWM`` is used rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec`` (the child would report
    the parent's peak), while ``VmHWM`` belongs to the process's own address space.
    """
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(path: str, workers: int, batch_size: int, seed: int, collate: str) -> dict:
    """One epoch over the train split; runs inside the child process."""
    import torch
    from torch.utils.data import DataLoader

    from d3_deepstarr.dataset import DeepSTARR

    dataset = DeepSTARR().open_split(path, "train")
    collate_fn = dataset.collate_fn if collate == "rows" else None
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, collate_fn=collate_fn,
                        generator=torch.Generator().manual_seed(seed), persistent_workers=workers > 0)
    before = _status_mb("VmRSS")
    rows = 0
    checksum = 0
    start = time.perf_counter()
    first_batch = None
    for tokens, labels in loader:
        if first_batch is None:
            first_batch = time.perf_counter() - start
        rows += tokens.shape[0]
        checksum += int(tokens[:, 0].sum())
    seconds = time.perf_counter() - start
    self_peak = _status_mb("VmHWM")
    # persistent workers are still alive: read their own peaks
    worker_pids = [w.pid for w in loader._iterator._workers] if workers else []
    child_peak = max((_status_mb("VmHWM", pid) for pid in worker_pids), default=0.0)
    return {"workers": workers, "collate": collate, "batch_size": batch_size, "rows": rows,
            "seconds": round(seconds, 2), "sequences_per_s": round(rows / seconds),
            "first_batch_s": round(first_batch or 0.0, 3),
            "rss_before_mb": round(before, 1), "peak_rss_main_mb": round(self_peak, 1),
            "peak_rss_worker_mb": round(child_peak, 1) if workers else None, "checksum": checksum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000, help="training rows of the synthetic file")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--x-dtype", nargs="+", default=["uint8", "float32"], choices=["uint8", "float32"])
    parser.add_argument("--collate", nargs="+", default=["default", "rows"], choices=["default", "rows"],
                        help="default: torch's default_collate; rows: H5SequenceDataset.collate_fn (no re-stacking)")
    parser.add_argument("--dir", default=None, help="where to write the synthetic files (default: a temporary folder)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "data_loading.json"))
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child mode: path of the file
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.workers[0], args.batch_size, seed=0, collate=args.collate[0])))
        return

    from d3_deepstarr.dataset import DeepSTARR

    tmp = None
    folder = Path(args.dir) if args.dir else Path(tmp := tempfile.mkdtemp(prefix="d3-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    runs = []
    try:
        for dtype in args.x_dtype:
            path = folder / f"deepstarr-synth-{args.rows}-{dtype}.h5"
            start = time.perf_counter()
            DeepSTARR().synthesize(path, args.rows, seed=0, x_dtype=dtype, overwrite=True)
            synth_s = time.perf_counter() - start
            size_mb = path.stat().st_size / 2**20
            print(f"wrote {path} ({size_mb:.0f} MiB) in {synth_s:.1f} s", file=sys.stderr)
            for workers in args.workers:
                for collate in args.collate:
                    cmd = [sys.executable, __file__, "--measure", str(path), "--workers", str(workers),
                           "--batch-size", str(args.batch_size), "--collate", collate]
                    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                    result.update({"x_dtype": dtype, "file_mb": round(size_mb, 1), "synth_s": round(synth_s, 1)})
                    print(json.dumps(result), file=sys.stderr)
                    runs.append(result)
            path.unlink()
    finally:
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    import h5py
    import torch

    report = {
        "benchmark": "one epoch of the train split of a synthetic DeepSTARR-layout file (X_train [N,4,249] one-hot, "
                     "Y_train [N,2]) through torch DataLoader(shuffle=True), lazy H5SequenceDataset",
        "rows": args.rows, "length": 249, "batch_size": args.batch_size,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "h5py": h5py.__version__},
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
