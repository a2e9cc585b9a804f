"""What the design benchmarks (``design.py``, ``evolve.py``, ``specificity.py``) share: their common flags and the
end of every run -- the results JSON written (atomically) and its plot drawn."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def design_parser(doc: str, *, work: str, num: int, steps: int) -> argparse.ArgumentParser:
    """The parser of a design benchmark (described by the first line of ``doc``) with the flags all of them take:
    ``--work`` (a folder under the temporary directory named ``work``), ``--num`` designs, ``--steps`` and
    ``--threads`` (torch's CPU threads, default 2)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / work,
                        help="where the data, model and oracles are trained once and reused")
    parser.add_argument("--num", type=int, default=num)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--threads", type=int, default=2)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The parsed flags, torch limited to ``--threads`` CPU threads."""
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    return args


def save(report: dict[str, Any], results: Path, plot: Callable[[Any, Path], None], figure: Path,
         plotted: Any = None) -> int:
    """Write ``report`` to ``results`` (JSON), draw ``plot(plotted or report, figure)``, say so; returns 0 (the exit
    code)."""
    from d3core.atomic import atomic_write_text

    results.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results, json.dumps(report, indent=2) + "\n")
    plot(report if plotted is None else plotted, figure)
    print(f"wrote {results} and {figure}")
    return 0
