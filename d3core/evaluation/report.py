"""``evaluate_samples``: every metric of ``docs/evaluation.md`` (the paper's, spec §9, and the peers') for one sample
set, under a protocol (:mod:`d3core.evaluation.protocols`), into ``metrics.json``, ``report.md``, ``motif_hits.tsv``
and PNG plots in one output folder.

This module orchestrates: it reads the sequences, runs the sections of :data:`d3core.evaluation.sections.SECTIONS`
that apply to the inputs given (each computes its metrics; :mod:`d3core.evaluation.sections`), sets the published
figures beside them and writes the outputs (report.md: :mod:`d3core.evaluation.report_markdown`).
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import d3core
from d3core.errors import D3UserError
from d3core.evaluation import sections
from d3core.evaluation.protocols import Protocol, protocol as get_protocol, published_figures
from d3core.evaluation.reference_cache import ReferenceCache, array_digest, file_digest
from d3core.evaluation.report_markdown import render_report
from d3core.evaluation.sections.attributions import PAPER_ATTRIBUTION_LABEL
from d3core.evaluation.sections.base import Run, read_rows

METRICS_VERSION = 2
#: an oracle whose test Pearson is below this gets a caveat beside every published figure
WEAK_ORACLE_PEARSON = 0.5


def _finite(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate_samples(samples, dataset, data_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                     reference: str = "test", oracle=None, protocol: str | Protocol = "quick",
                     kmer_ks: Sequence[int] | None = None, discriminator: bool = True,
                     identity_rows: int | None = None, seed: int = 0, device: str = "cpu",
                     samples_path: str | None = None, plots: bool = True, arch: str | None = None,
                     activity_thresholds: Mapping[str, float] | None = None, attribution_label: str | None = None,
                     likelihood_model=None, likelihood_samples: int | None = None,
                     cache_dir: str | os.PathLike | None = None, reference_rows: int | None = None,
                     progress: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate a :class:`~d3core.seqfiles.records.SequenceSet` against the ``reference`` split of the dataset file.

    ``protocol`` is ``"quick"``, ``"paper"`` or a :class:`~d3core.evaluation.protocols.Protocol`; ``kmer_ks`` and
    ``identity_rows`` override its settings; ``arch`` (default: the sample file's) picks the published figures.
    ``likelihood_model`` (a :class:`~d3core.generation.sampling_model.SamplingModel`): also the mean bits per base of both sets
    under it (:mod:`d3core.scoring.likelihood_comparison`, ``likelihood_samples`` draws per sequence).
    ``cache_dir``: keep what the reference alone determines there and reuse it
    (:mod:`d3core.evaluation.reference_cache`; default None: no cache). ``reference_rows``: compare distributions
    with that many reference rows, stratified by activity (:mod:`d3core.evaluation.subsampling`), each such figure
    with its ``<name>_subsample_se``; SP-MSE and the attribution sets still use the whole split.
    Returns the ``metrics.json`` content (``metrics`` flat name -> value, ``published``, ``groups``, ``inputs``,
    ``plots``, ``notes``).
    """
    from d3core.evaluation.oracle import check_label_names

    started = time.perf_counter()
    settings = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    settings = settings.with_overrides(kmer_ks=tuple(kmer_ks) if kmer_ks else None, identity_rows=identity_rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_path = dataset.require(data_path)
    ref_split = dataset.open_split(data_path, reference)
    ref_tokens, ref_labels = read_rows(ref_split, np.arange(len(ref_split)))
    gen = np.asarray(samples.tokens, dtype=np.uint8)
    if gen.shape[1] != ref_tokens.shape[1]:
        raise D3UserError(f"the samples are {gen.shape[1]} bp but {dataset.name} sequences in {data_path} are "
                          f"{ref_tokens.shape[1]} bp")
    if oracle is not None:
        check_label_names(oracle, samples.label_names)
    _check_label_options(oracle, activity_thresholds or {}, attribution_label)
    subset = np.arange(len(ref_tokens))
    if reference_rows is not None:
        from d3core.evaluation.subsampling import stratified_rows

        subset = stratified_rows(ref_labels, reference_rows, seed)
    cache = ReferenceCache(cache_dir, {"data": file_digest(data_path) if cache_dir is not None else None,
                                       "split": reference, "rows": array_digest({"rows": subset})})
    run = Run(settings, dataset, data_path, reference, samples, gen, ref_tokens[subset], ref_labels[subset],
              dataset.open_split(data_path, "train"), oracle, device, seed, echo or (lambda text: None), progress,
              out_dir, cache, discriminator=discriminator, draw_plots=plots,
              activity_thresholds=activity_thresholds or {}, attribution_label=attribution_label,
              likelihood_model=likelihood_model, likelihood_samples=likelihood_samples,
              all_ref_tokens=ref_tokens, all_ref_labels=ref_labels)
    run.metrics.update(n_generated=len(gen), n_reference=len(subset), n_reference_total=len(ref_tokens))
    if run.subsampled:
        run.notes.append(f"distributions compared with {len(subset)} of the {len(ref_tokens)} {reference} rows "
                         "(stratified by activity); <metric>_subsample_se: the standard error that adds")
    ran = _run_sections(run)
    if cache.enabled:
        run.say(cache.summary())
    arch = arch or (samples.metadata or {}).get("arch")
    result: dict[str, Any] = {"metrics_version": METRICS_VERSION, "protocol": settings.name, "metrics": run.metrics,
                              "groups": run.groups, "plots": run.plots, "notes": run.notes,
                              "published": _published(run, arch)}
    result["inputs"] = {
        "samples": samples_path, "samples_metadata": samples.metadata, "dataset": dataset.name,
        "data": str(data_path), "reference": reference, "protocol": settings.name,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(settings).items()},
        "arch": arch, "seed": seed, "oracle": None if oracle is None else str(oracle.path),
        "oracle_format": None if oracle is None else oracle.info.get("format"),
        "oracle_labels": None if oracle is None else list(oracle.label_names),
        "oracle_test_pearson": None if oracle is None else (oracle.info.get("metrics") or {}).get("test_pearson"),
        "reference_cache": {"folder": None if cache.folder is None else str(cache.folder), "hits": cache.hits,
                            "computed": cache.misses, "invalid": cache.problems},
        **run.extra.get("inputs", {}),
        "d3core_version": d3core.__version__, "seconds": round(time.perf_counter() - started, 2),
        "timings": run.timings,
    }
    write_outputs(out_dir, result, [line for section in ran for line in section.render(run)])
    return result


def _run_sections(run: Run) -> list[sections.Section]:
    """Run, in order, each section of :data:`~d3core.evaluation.sections.SECTIONS` that applies to ``run``'s
    inputs, timed (``run.timings[name]``, seconds); note why a skipped one did not run. Returns those that ran."""
    ran = []
    for section in sections.SECTIONS:
        if not section.applies(run):
            note = section.skipped_note(run)
            if note:
                run.notes.append(note)
            continue
        with run.timed(section.name):
            section.compute(run)
        ran.append(section)
    return ran


def _check_label_options(oracle, thresholds: Mapping[str, float], attribution_label: str | None) -> None:
    """Label names given on the command line must be the oracle's: refused before any work is done."""
    names = [] if oracle is None else list(oracle.label_names)
    what = f"the oracle predicts {', '.join(names)}" if oracle is not None else "there is no oracle"
    unknown = sorted(set(thresholds) - set(names))
    if unknown:
        raise D3UserError(f"--activity-threshold {', '.join(unknown)}: {what}")
    if attribution_label is not None and attribution_label not in names:
        raise D3UserError(f"--attribution-label {attribution_label!r}: {what}")


def _published(run: Run, arch: str | None) -> dict[str, dict]:
    """The published figures for this dataset, oracle and architecture, beside this run's values."""
    if run.oracle is None:
        return {}
    figures = published_figures(run.dataset.name, arch, list(run.oracle.label_names))
    label = (run.extra.get("inputs", {}).get("attribution") or {}).get("label")
    out = {}
    oracle = oracle_provenance(run.oracle)
    for metric, (value, source) in figures.items():
        if metric.startswith("attribution_consistency") and (
                label != PAPER_ATTRIBUTION_LABEL.get(run.dataset.name) or run.protocol.name != "paper"):
            continue  # published for another label, or with the paper's settings only
        out[metric] = {"published": value, "source": source, "this_run": run.metrics.get(metric), "oracle": oracle}
    return out


def oracle_provenance(oracle) -> str:
    """One line for a figure printed beside a published one: whether the oracle is of the kind the paper used (the
    original D3 code's checkpoints), else its test Pearson, with a caveat when it is weak (below
    :data:`WEAK_ORACLE_PEARSON`) or unknown."""
    if str(oracle.info.get("format", "")).startswith("original D3 oracle"):
        return "oracle: an original D3 oracle checkpoint (the paper's oracles are these files)"
    pearson = {k: v for k, v in ((oracle.info.get("metrics") or {}).get("test_pearson") or {}).items()
               if v is not None}
    if not pearson:
        return "oracle: NOT the paper's, test Pearson unknown: the comparison may say little"
    text = "oracle: NOT the paper's, test Pearson " + ", ".join(f"{k} {v:.2f}" for k, v in pearson.items())
    if min(pearson.values()) < WEAK_ORACLE_PEARSON:
        text += f"; a weak oracle (< {WEAK_ORACLE_PEARSON}): the comparison says little"
    return text


def write_outputs(out_dir: Path, result: dict[str, Any], section_lines: Sequence[str] = ()) -> None:
    """``metrics.json`` (``result``, JSON-safe) and ``report.md`` (with the sections' own markdown lines), atomically."""
    from d3core.atomic import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps(_finite(result), indent=2, default=str) + "\n")
    atomic_write_text(out_dir / "report.md", render_report(result, section_lines))
