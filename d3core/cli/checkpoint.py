"""``d3 convert`` and ``d3 checkpoint info|verify``: checkpoint formats from the command line.

Every registered format (``d3 plugins list --kind checkpoint_formats``) can be a source or a target: the built-in
``lightning`` (``.ckpt``), ``legacy`` (original D3 run directories and ``.pth``, from d3-ckpt-legacy) and any plugin's.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from d3core.cli.app import D3Group, manager_of
from d3core.cli.options import option
from d3core.errors import D3UserError

#: file endings considered when walking a tree (besides every registered format's own suffix)
CANDIDATE_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin"}
AUTO_NOTE = " (bf16-mixed on CUDA, else 32-true)"

_arch_option = option("--arch", help="Original D3 runs: the tower the run trained (Tran or Conv), when the file "
                                      "does not say (see docs/checkpoints.md).")
_config_option = option("--legacy_config", type=click.Path(dir_okay=False, path_type=Path),
                        help="Original D3 .pth without a neighbouring hydra/ folder: the run's config.yaml.")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_options(arch: str | None, legacy_config: Path | None) -> dict[str, Any]:
    return {"arch": arch, "config": str(legacy_config) if legacy_config else None}


# -- d3 convert --------------------------------------------------------------------------------------------------------
@dataclass
class Job:
    source: Path
    source_format: str | None
    target: Path | None = None
    status: str = ""
    failed: bool = False


def _detect_or_none(path: Path, manager) -> str | None:
    """The format name, or None for anything no format recognises (refusals and unreadable files included)."""
    from d3core.checkpoints import detect_format

    try:
        return detect_format(path, manager)[0]
    except D3UserError:
        return None


def _naming(source: Path) -> tuple[str, Path]:
    """``(run name, folder the run lives in)`` used to name a converted checkpoint.

    A run directory is named after itself; a checkpoint file inside an original run (``<run>/checkpoints/...``) after
    the run (``<run>``, ``<run>-checkpoint_N``, ``<run>-meta``); any other file after its stem.
    """
    from d3core.checkpoints import original_config_file

    if source.is_dir():
        return source.name, source.parent
    folder = source.parent
    if folder.name in ("checkpoints", "checkpoints-meta") and original_config_file(folder.parent):
        run = folder.parent
        if folder.name == "checkpoints-meta":
            return f"{run.name}-meta", run.parent
        return (run.name if source.stem == "checkpoint" else f"{run.name}-{source.stem}"), run.parent
    return source.stem, folder


def _walk(root: Path, manager, suffixes: set[str], skip: Path | None = None) -> list[Job]:
    """Every checkpoint under ``root``: original and plugin run directories (not descended into), and recognised files,
    every ``.ckpt`` of a ``d3 train`` run included (``skip``: the output directory, when it lies inside the tree)."""
    jobs: list[Job] = []
    skip = skip.resolve() if skip is not None else None
    for dirpath, dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        if skip is not None and directory.resolve() == skip:
            dirnames[:] = []
            continue
        fmt = _detect_or_none(directory, manager)
        if fmt is not None and fmt != "lightning":  # a d3 run directory is descended into: each .ckpt is converted
            jobs.append(Job(directory, fmt))
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            path = directory / filename
            if path.suffix.lower() not in suffixes:
                continue
            fmt = _detect_or_none(path, manager)
            if fmt is not None:
                jobs.append(Job(path, fmt))
            else:
                from d3core.checkpoints import safe_torch_load

                try:  # say why a checkpoint-looking file is left out (refused pickle, truncated file)
                    safe_torch_load(path, mmap=True)
                    reason = "skipped: no installed format recognises it"
                except D3UserError as exc:
                    reason = f"failed: {_one_line(exc)}"
                jobs.append(Job(path, None, status=reason, failed=reason.startswith("failed")))
    return jobs


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command("convert", context_settings={"max_content_width": 110})
@click.argument("path", type=click.Path(exists=True, path_type=Path))
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
    --to lightning writes DIR/<run-name>.ckpt; --to legacy writes DIR/<run-name>/hydra/config.yaml and
    DIR/<run-name>/checkpoints/checkpoint.pth (what the original D3 code loads); a plugin format writes
    DIR/<run-name><its suffix>. Sources already in the target format, and targets that exist, are skipped.
    \b
    Examples:
      d3 convert exp_local/deepstarr/Tran --out converted/
      d3 convert runs/my-run/checkpoints/last.ckpt --to legacy --out for-original-code/
      d3 convert model_zoo/ --recursive --out zoo-lightning/ --dry-run
    """
    from d3core.checkpoints import format_suffix, get_format, load_bundle, save_bundle

    manager = manager_of(ctx)
    to_name, to_format = get_format(to or "lightning", manager)
    suffix = format_suffix(to_name, to_format)
    options = _load_options(arch, legacy_config)
    root = path
    if recursive and path.is_dir():
        registry = manager.registry("checkpoint_formats")
        suffixes = set(CANDIDATE_SUFFIXES)
        for entry in registry.entries():
            try:
                own = getattr(entry.load(), "suffix", None)
            except Exception:
                own = None
            if own:
                suffixes.add(str(own).lower())
        jobs = _walk(path, manager, suffixes, skip=out)
    else:
        from d3core.checkpoints import detect_format

        jobs = [Job(path, detect_format(path, manager)[0])]
        root = None
    if not jobs:
        raise D3UserError(f"{path}: no checkpoints found (run directories, {', '.join(sorted(CANDIDATE_SUFFIXES))} "
                          "files)")
    for job in jobs:
        if job.source_format is None:
            continue
        name, base = _naming(job.source)
        if out is not None:
            relative = Path(os.path.relpath(base, root)) if root is not None else Path(".")
            base = out / relative if not str(relative).startswith("..") else out
        job.target = base / f"{name}{suffix}"
        if job.source_format == to_name:
            job.status = f"skipped: already {to_name}"
        elif job.target.exists() and not force:
            job.status = "skipped: exists"
        elif dry_run:
            job.status = "would convert"
        else:
            try:
                _, bundle = load_bundle(job.source, manager, format=job.source_format, **options)
                save_bundle(bundle, to_name, job.target, manager)
                job.status = f"converted (step {bundle.step})"
            except D3UserError as exc:
                if root is None:
                    raise
                job.status, job.failed = f"failed: {_one_line(exc)}", True
    rows = [("source", "format", "target", "status")]
    rows += [(str(j.source), j.source_format or "-", str(j.target) if j.target else "-", j.status) for j in jobs]
    click.echo(_table(rows))
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


def _describe(path: Path, name: str, bundle, manager) -> dict[str, Any]:
    from d3core.checkpoints import parameter_count, plain_config

    config = plain_config(bundle.config) or {}
    model = config.get("model") or {}
    arch_keys = ("hidden_size", "n_blocks", "n_heads", "cond_dim", "channels", "n_layers")
    info: dict[str, Any] = {
        "path": str(path), "format": name, "architecture": bundle.architecture, "dataset": bundle.dataset,
        "step": int(bundle.step), "parameters": parameter_count(bundle, manager), "precision": bundle.precision,
        "preset": config.get("preset"),
        "model": {k: model[k] for k in arch_keys if k in model},
        "labels": {"num_labels": model.get("num_labels"), "label_mode": model.get("label_mode"),
                   "length": model.get("length")},
        "graph": (config.get("graph") or {}).get("type"), "noise": config.get("noise"),
    }
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in bundle.model.values() if hasattr(t, "dtype")})
    info["dtype"] = ",".join(dtypes)
    if bundle.ema:
        info["ema"] = {"decay": bundle.ema.get("decay"), "num_updates": bundle.ema.get("num_updates"),
                       "tensors": len(bundle.ema.get("shadow") or {})}
    if bundle.optimizer:
        groups = bundle.optimizer.get("param_groups") or [{}]
        info["optimizer"] = {"moments": len(bundle.optimizer.get("state") or {}),
                             "parameters": sum(len(g.get("params", [])) for g in groups),
                             "lr": groups[0].get("lr")}
    legacy = (bundle.extra or {}).get("legacy")
    if legacy and name != "lightning":
        info["original"] = {k: legacy.get(k) for k in ("file", "variant", "arch_decided_by", "original_parameters",
                                                        "unused_parameters")}
    return info


@checkpoint.command("info")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@option("--json", "as_json", is_flag=True, default=None, help="Print the facts as JSON.")
@_arch_option
@_config_option
@click.pass_context
def info(ctx: click.Context, path: Path, as_json: bool | None, arch: str | None, legacy_config: Path | None) -> None:
    """Format, architecture, dataset, step, parameter count and precision of a checkpoint (read memory-mapped)."""
    from d3core.checkpoints import load_bundle

    manager = manager_of(ctx)
    name, bundle = load_bundle(path, manager, **_load_options(arch, legacy_config))
    facts = _describe(path, name, bundle, manager)
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
        return
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
    if "original" in facts:
        o = facts["original"]
        lines.append(("original", f"{o['variant']} run, file {o['file']}; tower decided by {o['arch_decided_by']}; "
                                  f"{o['original_parameters']:,} parameters in the file, {o['unused_parameters']:,} "
                                  "in unused modules (dropped)"))
    width = max(len(k) for k, _ in lines) + 1
    for key, value in lines:
        click.echo(f"{(key + ':').ljust(width)} {value}")


def _random_inputs(config: dict[str, Any], noise, seed: int = 0, batch: int = 2):
    import torch

    model = config.get("model") or {}
    length = int(model.get("length") or 0) or 64
    tokens = int(config.get("tokens", 4))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, tokens, (batch, length), generator=generator)
    labels_n, mode = int(model.get("num_labels") or 0), model.get("label_mode", "global")
    if not labels_n or mode == "none":
        labels = None
    elif mode == "per_position":
        labels = torch.randn(batch, length, labels_n, generator=generator)
    else:
        labels = torch.randn(batch, labels_n, generator=generator)
    sigma = noise(torch.linspace(0.1, 0.9, batch))[0]
    return x, labels, sigma


def _compare(a, b) -> str:
    """Bit-exact comparison of trained weights, EMA and optimizer moments of two bundles (by parameter name)."""
    import torch

    def same(x, y) -> bool:
        return tuple(x.shape) == tuple(y.shape) and torch.equal(x.float(), y.float())

    diff = [k for k in a.model if k not in b.model or not same(a.model[k], b.model[k])]
    if diff:
        raise AssertionError(f"weight {diff[0]} differs ({len(diff)} tensors)")
    shadow_a, shadow_b = (a.ema or {}).get("shadow") or {}, (b.ema or {}).get("shadow") or {}
    diff = [k for k in shadow_a if k not in shadow_b or not same(shadow_a[k], shadow_b[k])]
    if diff:
        raise AssertionError(f"EMA of {diff[0]} differs ({len(diff)} tensors)")
    moments_a = (a.optimizer or {}).get("state") or {}
    moments_b = (b.optimizer or {}).get("state") or {}
    if set(moments_a) != set(moments_b):
        raise AssertionError(f"optimizer moments for {len(moments_a)} vs {len(moments_b)} parameters")
    count = 0
    for name, state in moments_a.items():
        for key, value in state.items():
            if hasattr(value, "shape") and not same(value, moments_b[name][key]):
                raise AssertionError(f"optimizer {key} of {name} differs")
            count += hasattr(value, "shape") and value.dim() > 0
    if int(a.step) != int(b.step):
        raise AssertionError(f"step {a.step} vs {b.step}")
    return (f"bit-exact: {len(a.model)} weights, {len(shadow_a)} EMA tensors, {count} Adam moment tensors, "
            f"step {a.step}")


@checkpoint.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@option("--to", "to", default=None, metavar="FORMAT",
        help="Format to round-trip through (default: lightning, or legacy for a Lightning checkpoint).")
@option("--tolerance", type=float, default=None, help="Max |difference| of the model outputs (default 1e-4).")
@_arch_option
@_config_option
@click.pass_context
def verify(ctx: click.Context, path: Path, to: str | None, tolerance: float | None, arch: str | None,
           legacy_config: Path | None) -> None:
    """Compatibility checks on your checkpoint: detect, load, convert, reload, compare (one PASS/FAIL line each).

    The conversion goes to a temporary directory (removed afterwards); the outputs are compared on fixed random
    inputs with the EMA weights. Exit code 1 when a check fails.
    """
    import tempfile

    import torch

    from d3core.checkpoints import (
        detect_format,
        format_suffix,
        get_format,
        load_bundle,
        model_from_bundle,
        parameter_count,
        save_bundle,
    )

    manager = manager_of(ctx)
    tolerance = 1e-4 if tolerance is None else tolerance
    options = _load_options(arch, legacy_config)
    results: list[tuple[bool, str, str]] = []
    state: dict[str, Any] = {}

    def check(title: str, step) -> bool:
        try:
            results.append((True, title, step()))
            return True
        except Exception as exc:  # every failure is reported as a line, not a traceback
            results.append((False, title, _one_line(exc)))
            return False

    def detect():
        state["format"] = detect_format(path, manager)[0]
        return f"format {state['format']}"

    def load():
        state["bundle"] = load_bundle(path, manager, format=state["format"], **options)[1]
        b = state["bundle"]
        return f"{b.architecture} on {b.dataset}, step {b.step:,}"

    def build():
        state["model"], _, state["noise"] = model_from_bundle(state["bundle"], manager=manager)
        return f"weights fit {state['bundle'].architecture} ({parameter_count(state['bundle'], manager):,} parameters)"

    def other_format() -> str:
        if to:
            return get_format(to, manager)[0]
        if state["format"] != "lightning":
            return "lightning"
        names = manager.registry("checkpoint_formats").names()
        others = [n for n in names if n.lower() not in ("lightning", state["format"].lower())]
        preferred = [n for n in others if n.lower() == "legacy"] or others
        if not preferred:
            raise AssertionError("no other checkpoint format installed to convert to (install d3-ckpt-legacy)")
        return preferred[0]

    with tempfile.TemporaryDirectory(prefix="d3-verify-") as tmp:
        def convert_step():
            target_name = other_format()
            _, fmt = get_format(target_name, manager)
            state["target"] = Path(tmp) / f"converted{format_suffix(target_name, fmt)}"
            state["target_format"] = target_name
            save_bundle(state["bundle"], target_name, state["target"], manager)
            return f"wrote {target_name} in a temporary directory"

        def reload():
            found = detect_format(state["target"], manager)[0]
            if found != state["target_format"]:
                raise AssertionError(f"the converted checkpoint is detected as {found}, not {state['target_format']}")
            state["converted"] = load_bundle(state["target"], manager, format=found)[1]
            return f"detected as {found} and loaded"

        def outputs():
            other, _, _ = model_from_bundle(state["converted"], manager=manager)
            x, labels, sigma = _random_inputs(state["bundle"].config, state["noise"])
            with torch.no_grad():
                first = state["model"].eval()(x, labels, sigma)
                second = other.eval()(x, labels, sigma)
            worst = (first - second).abs().max().item()
            if not worst <= tolerance:
                raise AssertionError(f"max |difference| {worst:.3g} > {tolerance:g}")
            return f"max |difference| {worst:.3g} <= {tolerance:g} on {x.shape[0]} random sequences (EMA weights)"

        steps = [("detect", detect), ("load", load), ("model", build), ("convert", convert_step),
                 ("reload", reload), ("round trip", lambda: _compare(state["bundle"], state["converted"])),
                 ("outputs", outputs)]
        for title, step in steps:
            if not check(title, step):
                break
    for ok, title, detail in results:
        click.echo(f"{'PASS' if ok else 'FAIL'}  {title:<10}  {detail}")
    skipped = len(steps) - len(results)
    if skipped:
        click.echo(f"SKIP  {skipped} check(s) after the failure")
    failed = sum(not ok for ok, _, _ in results) + skipped
    click.echo(f"d3 checkpoint verify: {len(steps) - failed} of {len(steps)} checks passed")
    if failed:
        ctx.exit(1)
