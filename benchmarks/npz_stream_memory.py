"""Peak memory of writing a sample ``.npz`` chunk by chunk (``SampleWriter``), against the number of sequences.

Usage: python benchmarks/npz_stream_memory.py [--rows 100000,400000,1600000]
       [--out benchmarks/results/npz_stream_memory.json]

Each size runs in a fresh process that writes ``rows`` DeepSTARR-length sequences (L = 249, 2 labels) in chunks of
4096 rows, as ``d3 sample -o big.npz`` does, and reports its peak resident set (``ru_maxrss``) and the bytes of the
tokens written. Streaming means the peak stays flat while the tokens grow; before issue 25 every chunk was kept and
the peak grew by N x L bytes.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
from d3core.generation import SampleWriter
rows, chunk, length = int(sys.argv[2]), 4096, 249
block = np.random.default_rng(0).integers(0, 4, (chunk, length), dtype=np.uint8)
labels = np.zeros((chunk, 2), np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
with SampleWriter(sys.argv[1], ["dev", "hk"], {"length": length}) as writer:
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        writer.write(block[:n], labels[:n])
print(json.dumps({"rows": rows, "tokens_mb": rows * length / 1e6, "seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_write_mb": before / 1024, "file_mb": Path(sys.argv[1]).stat().st_size / 1e6}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,400000,1600000")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "npz_stream_memory.json"))
    args = parser.parse_args()
    records = []
    with tempfile.TemporaryDirectory() as folder:
        for rows in (int(r) for r in args.rows.split(",")):
            out = Path(folder) / f"samples_{rows}.npz"
            result = subprocess.run([sys.executable, "-c", CHILD, str(out), str(rows)], capture_output=True,
                                    text=True, check=True)
            records.append(json.loads(result.stdout))
            out.unlink()
            print(json.dumps(records[-1]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "npz_stream_memory", "python": platform.python_version(),
                                          "machine": platform.machine(), "records": records}, indent=2) + "\n")


if __name__ == "__main__":
    main()
