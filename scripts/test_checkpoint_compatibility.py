#!/usr/bin/env python
"""The original D3 repository's compatibility check, kept for its users: ``d3 checkpoint verify`` on each checkpoint.

    python scripts/test_checkpoint_compatibility.py                                # every checkpoint under .
    python scripts/test_checkpoint_compatibility.py exp_local/deepstarr/Tran       # one original run directory
    python scripts/test_checkpoint_compatibility.py model_zoo/ --tolerance 1e-5

PATH (default: the current directory) is a checkpoint file, a run directory, or a folder searched for checkpoints
(original D3 run directories, ``*.ckpt``, ``*.pth``, ``*.pt`` and the suffixes of installed formats). Each one gets
the ``d3 checkpoint verify`` checks: detect, load, convert, reload, compare (one PASS/FAIL line each; N/A, with the
reason, for a model no other format can hold, such as a Conv ``tiny`` run: the original format's convolution is
hard-wired to one size). Exit code 0 when no check fails, 1 when one fails, 2 when nothing is found.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from d3core.cli.options import option

_SUFFIXES = {".ckpt", ".pth", ".pt"}


def find_checkpoints(root: Path, manager) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(checkpoints, skipped)``: ``root`` itself when a format recognises it, else the checkpoints under it
    (``d3 convert --recursive``'s walk, oracle checkpoints left out).

    ``skipped`` lists files with a checkpoint suffix that no installed format recognises, with the reason.
    """
    from d3core.checkpoints.convert import find_checkpoints as walk
    from d3core.checkpoints.formats import detect_format
    from d3core.errors import D3UserError

    try:
        detect_format(root, manager)
        return [root], []
    except D3UserError:
        if root.is_file():
            return [root], []
    jobs = [job for job in walk(root, manager) if not job.source.name.endswith(".oracle.ckpt")]
    found = [job.source for job in jobs if job.source_format is not None]
    skipped = [(job.source, job.status.split(": ", 1)[-1]) for job in jobs if job.source_format is None]
    return found, skipped


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.argument("path", required=False, default=".", type=click.Path(exists=True, path_type=Path))
@option("--to", "to", default=None, metavar="FORMAT", help="Format to round-trip through (see d3 checkpoint verify).")
@option("--tolerance", default=None, help="Max |difference| of the model outputs (default 1e-4).")
@option("--arch", default=None, help="Original D3 runs: the tower the run trained (Tran or Conv).")
@option("--legacy_config", default=None, help="Original D3 .pth without a hydra/ folder: the run's config.yaml.")
def compatibility(path: Path, to: str | None, tolerance: str | None, arch: str | None,
                  legacy_config: str | None) -> None:
    """Run the d3 checkpoint verify checks on PATH (default .): one checkpoint, or every checkpoint under it."""
    from d3core.cli import make_cli
    from d3core.plugins import get_plugin_manager

    cli = make_cli()
    checkpoints, skipped = find_checkpoints(path, get_plugin_manager())
    for other, why in skipped:
        click.echo(f"-- skipped {other}: {why}")
    if not checkpoints:
        click.echo(f"Error: no checkpoints found under {path}", err=True)
        sys.exit(2)
    extra = []
    for flag, value in (("--to", to), ("--tolerance", tolerance), ("--arch", arch), ("--legacy_config", legacy_config)):
        if value is not None:
            extra += [flag, str(value)]
    failed = []
    for checkpoint in checkpoints:
        click.echo(f"== {checkpoint}")
        try:
            code = cli.main(args=["checkpoint", "verify", str(checkpoint), *extra], prog_name="d3",
                            standalone_mode=False)
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        if code:
            failed.append(checkpoint)
    passed = len(checkpoints) - len(failed)
    click.echo(f"{len(checkpoints)} checkpoint(s): {passed} passed, {len(failed)} failed"
               + (": " + ", ".join(map(str, failed)) if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    compatibility()
