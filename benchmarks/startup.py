"""CLI start-up time: ``d3 --help`` and ``d3 plugins list`` as a user runs them (fresh process each time), and how
fast ``d3 train`` rejects a mistyped config key (exit 2, before torch and Lightning are imported).

Usage: python benchmarks/startup.py [--repeat 15] [--out benchmarks/results/startup.json]
Target: median well under 0.5 s. Also records whether torch was imported (it must not be).
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

COMMANDS = {"d3 --help": ["--help"], "d3 plugins list": ["plugins", "list"],
            "d3 plugins list --json --all": ["plugins", "list", "--json", "--all"],
            "d3 train ... optim.lrr=1 (mistyped key, exit 2)": ["train", "--dataset", "deepstarr", "--arch", "Tran",
                                                               "optim.lrr=1"]}


def time_command(script: Path, args: list[str], repeat: int) -> dict:
    times = []
    expected = 2 if args[0] == "train" else 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run([str(script), *args], capture_output=True)
        times.append(time.perf_counter() - start)
        assert result.returncode == expected, result.stderr.decode()[-2000:]
    return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "max_s": round(max(times), 4), "repeat": repeat}


def torch_imported(args: list[str]) -> bool:
    code = (f"import sys\nfrom d3core.cli import main\nsys.argv = ['d3', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.stderr.strip().splitlines()[-1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "startup.json")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("d3")
    subprocess.run([str(script), "--help"], check=True, capture_output=True)  # warm the file cache
    results = {name: {**time_command(script, argv, args.repeat), "imports_torch": torch_imported(argv)}
               for name, argv in COMMANDS.items()}
    report = {"benchmark": "cli_startup", "python": platform.python_version(), "cpus": os.cpu_count(),
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
