"""``d3 convert`` and ``d3 checkpoint info|verify``: parse, call :mod:`d3core.checkpoints`, print.

Every registered format (``d3 plugins list --kind checkpoint_formats``) can be a source or a target: the built-in
``lightning`` (``.ckpt``), ``legacy`` (original D3 runs, from d3-ckpt-legacy) and any plugin's.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from d3core.cli.app import D3Group, hold_output, manager_of
from d3core.cli.options import FiniteFloat, PathOrPublished, option
from d3core.cli.tables import format_table

AUTO_NOTE = " (bf16-mixed on CUDA, else 32-true)"

_arch_option = option("--arch", help="Original D3 runs: the tower the run trained (Tran or Conv), when the file "
                                      "does not say (see docs/checkpoints.md).")
_config_option = option("--legacy_config", type=click.Path(dir_okay=False, path_type=Path),
                        help="Original D3 .pth whose run folder does not hold its config: the run's config.yaml.")


def _load_options(arch: str | None, legacy_config: Path | None) -> dict[str, Any]:
    return {"arch": arch, "config": str(legacy_config) if legacy_config else None}


# -- d3 convert --------------------------------------------------------------------------------------------------------
@click.command("convert", context_settings={"max_content_width": 110})
@click.argument("path", type=PathOrPublished(("model", "oracle"), exists=True))
@option("--to", "to", default=None, metavar="FORMAT",
        help="Target format: lightning (default), legacy, or a plugin's (d3 plugins list --kind checkpoint_formats).")
@option("--out", type=click.Path(file_okay=False, path_type=Path),
        help="Output directory (always a directory; created). Default: beside each source.")
@option("--recursive", "-r", is_flag=True, default=None,
        help="Convert every checkpoint under PATH (a model zoo), mirroring its tree under --out.")
@option("--dry_run", is_flag=True, default=None, help="Show what would be converted; write nothing.")
@option("--force", is_flag=True, default=None, help="Overwrite targets that already exist.")
@_arch_option
@_config_option
@click.pass_context
def convert(ctx: click.Context, path: Path, to: str | None, out: Path | None, recursive: bool | None,
            dry_run: bool | None, force: bool | None, arch: str | None, legacy_config: Path | None) -> None:
    """Convert checkpoints between formats (a file, a run directory, or a whole tree).

    \b
    --to lightning writes DIR/<run-name>.ckpt; --to legacy writes the original D3 run directory DIR/<run-name>/
    (what the original D3 code loads); a plugin format writes DIR/<run-name><its suffix>. Sources already in the
    target format, and targets that exist, are skipped.
    \b
    Examples:
      d3 convert exp_local/deepstarr/Tran --out converted/
      d3 convert runs/my-run/checkpoints/last.ckpt --to legacy --out for-original-code/
      d3 convert model_zoo/ --recursive --out zoo-lightning/ --dry-run
    """
    from d3core.checkpoints.convert import convert_jobs, plan_conversion
    from d3core.checkpoints.safe_load import loads_remembered

    manager = manager_of(ctx)
    if out is not None and not dry_run:  # targets that exist are each refused or replaced (--force) below
        hold_output(out, force=True, flag="--out", folder=True)
    with loads_remembered():  # detection, naming and conversion read each file once
        to_name, jobs = plan_conversion(path, manager, to=to, out=out, recursive=bool(recursive),
                                        force=bool(force), dry_run=bool(dry_run))
        convert_jobs(jobs, to_name, manager, keep_going=bool(recursive) and path.is_dir(),
                     **_load_options(arch, legacy_config))
    rows = [(str(j.source), j.source_format or "-", str(j.target) if j.target else "-", j.status) for j in jobs]
    click.echo(format_table(("source", "format", "target", "status"), rows))
    done = sum(j.status.startswith(("converted", "would")) for j in jobs)
    skipped = sum(j.status.startswith("skipped") for j in jobs)
    failed = sum(j.failed for j in jobs)
    verb = "would convert" if dry_run else "converted"
    click.echo(f"d3 convert: {done} {verb}, {skipped} skipped, {failed} failed (to {to_name})")
    if failed:
        ctx.exit(2)


# -- d3 checkpoint info / verify ---------------------------------------------------------------------------------------
@click.group("checkpoint", cls=D3Group, context_settings={"max_content_width": 110})
def checkpoint() -> None:
    """Inspect and check checkpoints of any registered format."""


def _info_lines(facts: dict[str, Any]) -> list[tuple[str, str]]:
    model = " ".join(f"{k}={v}" for k, v in facts["model"].items())
    labels = facts["labels"]
    lines = [("path", facts["path"]), ("format", facts["format"]),
             ("architecture", f"{facts['architecture']}  ({model}; preset {facts['preset'] or '-'})"),
             ("dataset", f"{facts['dataset']}  ({labels['num_labels']} labels, {labels['label_mode']}, "
                         f"length {labels['length']})"),
             ("step", f"{facts['step']:,}"),
             ("parameters", f"{facts['parameters']:,}"),
             ("precision", f"{facts['precision']}{AUTO_NOTE if facts['precision'] == 'auto' else ''}  "
                           f"(weights stored as {facts['dtype']})")]
    if "ema" in facts:
        lines.append(("ema", f"decay {facts['ema']['decay']}, {facts['ema']['num_updates']:,} updates, "
                             f"{facts['ema']['tensors']} tensors"))
    if "optimizer" in facts:
        o = facts["optimizer"]
        lines.append(("optimizer", f"moments for {o['moments']} of {o['parameters']} parameters, lr {o['lr']}"))
    noise = facts["noise"] or {}
    shown = ("sigma_min", "sigma_max") if noise.get("type") == "geometric" else ("eps",)
    lines.append(("diffusion", f"graph {facts['graph']}, noise {noise.get('type')} "
                               + ", ".join(f"{k}={noise[k]}" for k in shown if k in noise)))
    from d3core.checkpoints.describe import CORE_FACTS

    for key, value in facts.items():  # what the checkpoint's format adds
        if key not in CORE_FACTS:
            lines.append((key, str(value.get("summary", value)) if isinstance(value, dict) else str(value)))
    return lines


@checkpoint.command("info")
@click.argument("path", type=PathOrPublished(("model", "oracle"), exists=True))
@option("--json", "as_json", is_flag=True, default=None, help="Print the facts as JSON.")
@_arch_option
@_config_option
@click.pass_context
def info(ctx: click.Context, path: Path, as_json: bool | None, arch: str | None, legacy_config: Path | None) -> None:
    """Format, architecture, dataset, step, parameter count and precision of a checkpoint (read memory-mapped)."""
    from d3core.checkpoints import load_bundle
    from d3core.checkpoints.describe import describe_checkpoint

    manager = manager_of(ctx)
    name, bundle = load_bundle(path, manager, **_load_options(arch, legacy_config))
    facts = describe_checkpoint(path, name, bundle, manager)
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
        return
    lines = _info_lines(facts)
    width = max(len(k) for k, _ in lines) + 1
    for key, value in lines:
        click.echo(f"{(key + ':').ljust(width)} {value}")


@checkpoint.command("verify")
@click.argument("path", type=PathOrPublished(("model", "oracle"), exists=True))
@option("--to", "to", default=None, metavar="FORMAT",
        help="Format to round-trip through (default: lightning; for a Lightning checkpoint the first other "
             "installed format, e.g. legacy).")
@option("--tolerance", type=FiniteFloat(min=0), default=None,
        help="Max |difference| of the model outputs (default 1e-4).")
@_arch_option
@_config_option
@click.pass_context
def verify(ctx: click.Context, path: Path, to: str | None, tolerance: float | None, arch: str | None,
           legacy_config: Path | None) -> None:
    """Compatibility checks on your checkpoint: detect, load, convert, reload, compare (one PASS/FAIL line each).

    The conversion goes to a temporary directory (removed afterwards); the outputs are compared on fixed random
    inputs with the EMA weights. A model no other format can hold (e.g. a Conv tiny run: the original D3 format's
    convolution is hard-wired to one size) gets N/A for the conversion and the checks after it, with the reason:
    not a failure. Exit code 1 when a check fails.
    """
    from d3core.checkpoints.verify import verify_checkpoint

    results = verify_checkpoint(path, manager_of(ctx), to=to, tolerance=1e-4 if tolerance is None else tolerance,
                                **_load_options(arch, legacy_config))
    if report_checks(results):
        ctx.exit(1)


def report_checks(results) -> bool:
    """Print one line per check (``PASS``, ``FAIL``, ``N/A``; ``SKIP`` for those after a failure) and the summary;
    returns whether a check failed."""
    from d3core.checkpoints.verify import CHECKS, FAIL, NOT_APPLICABLE

    labels = {FAIL: "FAIL", NOT_APPLICABLE: "N/A "}
    for check in results:
        click.echo(f"{labels.get(check.status, 'PASS')}  {check.title:<10}  {check.detail}")
    skipped = len(CHECKS) - len(results)
    if skipped:
        click.echo(f"SKIP  {skipped} check(s) after the failure")
    failed = sum(check.status == FAIL for check in results) + skipped
    passed = sum(check.passed for check in results)
    not_applicable = sum(check.status == NOT_APPLICABLE for check in results)
    extra = f", {not_applicable} not applicable (the model has no form in the other formats)" if not_applicable else ""
    click.echo(f"d3 checkpoint verify: {passed} of {len(CHECKS)} checks passed{extra}")
    return bool(failed)
