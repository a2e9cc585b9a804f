"""Run every benchmark of this folder (one command, JSON out in benchmarks/results/).

Usage: python benchmarks/run.py [NAME ...]   (NAME = a script stem, e.g. startup; default: all)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
#: run.py itself, and the GPU benchmark (benchmarks/gpu.sh runs it on a machine with a CUDA GPU)
NOT_HERE = {"run", "gpu_bench"}


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.stem not in NOT_HERE)
    selected = [p for p in scripts if not names or p.stem in names]
    failed = []
    for script in selected:
        print(f"== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
