"""``d3 convert``'s logic: find the checkpoints under a tree, name their targets, plan and run the conversions.

Every registered format can be a source or a target. A run directory that a format recognises (other than a
``d3 train`` run, whose ``.ckpt`` files are converted one by one) is one checkpoint and is not descended into.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d3core.checkpoints.formats import detect_format, format_suffix, get_format, load_bundle, save_bundle
from d3core.checkpoints.safe_load import forget_load, safe_torch_load
from d3core.errors import D3UserError, one_line

__all__ = ["CANDIDATE_SUFFIXES", "ConversionJob", "convert_jobs", "find_checkpoints", "plan_conversion",
           "target_name"]

#: file endings considered when walking a tree (besides every registered format's own suffix)
CANDIDATE_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin"}


@dataclass
class ConversionJob:
    """One checkpoint to convert: its format (None: none recognises it), target path and outcome."""

    source: Path
    source_format: str | None
    target: Path | None = None
    status: str = ""
    failed: bool = False


def _detect_or_none(path: Path, manager) -> str | None:
    """The format name, or None for anything no format recognises (refusals and unreadable files included)."""
    try:
        return detect_format(path, manager)[0]
    except D3UserError:
        return None


def target_name(source: Path, fmt: Any = None) -> tuple[str, Path]:
    """``(run name, folder the run lives in)`` used to name a converted checkpoint.

    A run directory is named after itself; a file after what its format's ``run_name(path)`` says (a file inside a
    run directory of that format is named after the run), else after its stem, beside it.
    """
    if source.is_dir():
        return source.name, source.parent
    named = getattr(fmt, "run_name", None)
    found = named(source) if callable(named) else None
    return found if found is not None else (source.stem, source.parent)


def format_suffixes(manager) -> set[str]:
    """:data:`CANDIDATE_SUFFIXES` plus every registered format's own suffix."""
    suffixes = set(CANDIDATE_SUFFIXES)
    for entry in manager.registry("checkpoint_formats").entries():
        try:
            own = getattr(entry.load(), "suffix", None)
        except Exception:
            own = None
        if own:
            suffixes.add(str(own).lower())
    return suffixes


def find_checkpoints(root: Path, manager, *, skip: Path | None = None) -> list[ConversionJob]:
    """Every checkpoint under ``root``: run directories that a format recognises (not descended into), and files with
    a checkpoint suffix -- every ``.ckpt`` of a ``d3 train`` run included (``skip``: the output directory, when it lies
    inside the tree). Files no format recognises come back with ``source_format=None`` and the reason."""
    jobs: list[ConversionJob] = []
    suffixes = format_suffixes(manager)
    skip = skip.resolve() if skip is not None else None
    for dirpath, dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        if skip is not None and directory.resolve() == skip:
            dirnames[:] = []
            continue
        fmt = _detect_or_none(directory, manager)
        if fmt is not None and fmt != "lightning":  # a d3 run directory is descended into: each .ckpt is converted
            jobs.append(ConversionJob(directory, fmt))
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            path = directory / filename
            if path.suffix.lower() not in suffixes:
                continue
            fmt = _detect_or_none(path, manager)
            if fmt is not None:
                jobs.append(ConversionJob(path, fmt))
                continue
            try:  # say why a checkpoint-looking file is left out (refused pickle, truncated file)
                safe_torch_load(path, mmap=True)
                reason = "skipped: no installed format recognises it"
            except D3UserError as exc:
                reason = f"failed: {one_line(exc, with_type=False)}"
            jobs.append(ConversionJob(path, None, status=reason, failed=reason.startswith("failed")))
    return jobs


def plan_conversion(path: Path, manager, *, to: str | None = None, out: Path | None = None, recursive: bool = False,
                    force: bool = False, dry_run: bool = False) -> tuple[str, list[ConversionJob]]:
    """``(target format name, jobs)`` with every job's target and, for those not to be converted, its status
    (``skipped: already <format>``, ``skipped: exists``, ``would convert`` on a dry run)."""
    to_name, to_format = get_format(to or "lightning", manager)
    suffix = format_suffix(to_name, to_format)
    tree = recursive and path.is_dir()
    jobs = find_checkpoints(path, manager, skip=out) if tree else [ConversionJob(path, detect_format(path, manager)[0])]
    if not jobs:
        raise D3UserError(f"{path}: no checkpoints found (run directories, {', '.join(sorted(CANDIDATE_SUFFIXES))} "
                          "files)")
    for job in jobs:
        if job.source_format is None:
            continue
        name, base = target_name(job.source, get_format(job.source_format, manager)[1])
        if out is not None:
            relative = Path(os.path.relpath(base, path)) if tree else Path(".")
            base = out / relative if not str(relative).startswith("..") else out
        job.target = base / f"{name}{suffix}"
        if job.source_format == to_name:
            job.status = f"skipped: already {to_name}"
        elif job.target.exists() and not force:
            job.status = "skipped: exists"
        elif dry_run:
            job.status = "would convert"
    return to_name, jobs


def convert_jobs(jobs: list[ConversionJob], to: str, manager, *, keep_going: bool = True,
                 **options: Any) -> None:
    """Convert every planned job that has no status yet; a failure is recorded on the job (``keep_going``) or
    raised. ``options`` reach the source format's ``load`` (e.g. ``arch=``, ``config=``). Within
    :func:`~d3core.checkpoints.safe_load.loads_remembered`, a source's content is dropped once it is converted."""
    for job in jobs:
        if job.source_format is None or job.status:
            forget_load(job.source)
            continue
        try:
            _, bundle = load_bundle(job.source, manager, format=job.source_format, **options)
            save_bundle(bundle, to, job.target, manager)
            job.status = f"converted (step {bundle.step})"
        except D3UserError as exc:
            if not keep_going:
                raise
            job.status, job.failed = f"failed: {one_line(exc, with_type=False)}", True
        finally:
            forget_load(job.source)
