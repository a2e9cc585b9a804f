"""``report.md``: the content of ``metrics.json`` as markdown tables (inputs, the published figures, conditioning,
every metric with its better direction, the sections' own tables, plots, notes, timings)."""
from __future__ import annotations

import math
from typing import Any, Sequence

from d3core.evaluation.sections import direction_of
from d3core.evaluation.sections.base import SE_SUFFIX

#: the heading of each plot key in report.md (other keys: the key)
PLOT_TITLES = {"predicted_vs_requested": "Oracle-predicted vs requested activity",
               "activity_distribution": "Predicted activity, generated vs real",
               "kmer_spectrum": "k-mer spectra, real vs generated", "gc_content": "GC content",
               "nn_identity": "Identity to the nearest training sequence",
               "attribution_logos": "Attribution maps of designs and of a real sequence"}


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def render_report(result: dict[str, Any], section_lines: Sequence[str] = ()) -> str:
    """report.md for ``result`` (the ``metrics.json`` content); ``section_lines``: the sections' own markdown,
    placed after the metrics table."""
    inputs, metrics = result.get("inputs", {}), result["metrics"]
    lines = ["# d3 evaluation report", ""] + _inputs(result, inputs, metrics)
    if result.get("published"):
        lines += ["## Beside the published figures", "",
                  f"Architecture: {inputs.get('arch') or 'unknown'}. The published values are the paper's (source "
                  "per row); compare like with like (same oracle, same number of sequences, same protocol).", "",
                  "| metric | this run | published (paper) | source | this run's oracle |", "|---|---|---|---|---|"]
        for name, row in result["published"].items():
            lines.append(f"| `{name}` | {_fmt(row['this_run'])} | {_fmt(row['published'])} | {row['source']} | "
                         f"{row.get('oracle', '')} |")
        lines.append("")
    if result.get("groups"):
        lines += _conditioning(result["groups"])
    lines += ["## Metrics", "", "| metric | value (± standard error from --reference-rows subsampling) | better |",
              "|---|---|---|"]
    for name, value in metrics.items():
        if name.endswith(SE_SUFFIX):
            continue
        se = metrics.get(name + SE_SUFFIX)
        shown = _fmt(value) + (f" ± {_fmt(se)}" if se is not None else "")
        lines.append(f"| `{name}` | {shown} | {direction_of(name)} |")
    lines.append("")
    lines += section_lines
    if result.get("plots"):
        lines += ["## Plots", ""]
        for key, file in result["plots"].items():
            lines += [f"### {PLOT_TITLES.get(key, key)}", "", f"![{key}]({file})", ""]
    if result.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    timings = inputs.get("timings") or {}
    if timings:
        lines += ["## Timings", "", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), ""]
    return "\n".join(lines)


def _inputs(result: dict[str, Any], inputs: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """The bullet list of what was evaluated: samples, their run, dataset and protocol, oracle, motifs."""
    meta = inputs.get("samples_metadata") or {}
    lines = [f"- samples: `{inputs.get('samples')}` ({metrics['n_generated']} sequences)"]
    if meta.get("checkpoint"):
        lines.append(f"- generated from `{meta['checkpoint']}` (step {meta.get('checkpoint_step')}), "
                     f"{meta.get('steps')} steps, predictor {meta.get('predictor')}, seed {meta.get('seed')}, "
                     f"precision {meta.get('precision')}")
    lines.append(f"- dataset {inputs.get('dataset')}: `{inputs.get('data')}`, reference split "
                 f"**{inputs.get('reference')}** ({metrics['n_reference']} sequences); protocol "
                 f"**{result.get('protocol')}**")
    if inputs.get("oracle"):
        pearson = inputs.get("oracle_test_pearson") or {}
        lines.append(f"- oracle `{inputs['oracle']}` ({inputs.get('oracle_format')}; predicts "
                     f"{', '.join(inputs.get('oracle_labels') or [])})" + (" (test Pearson " + ", ".join(
                         f"{k} {v:.3f}" for k, v in pearson.items() if v is not None) + ")" if pearson else ""))
    else:
        lines.append("- oracle: none")
    if inputs.get("motif_database"):
        lines.append(f"- motifs: {inputs['motif_database']}, FIMO p < 1e-4, both strands")
    return lines + ["- metric definitions: `docs/evaluation.md` (metrics version "
                    f"{result.get('metrics_version')})", ""]


def _conditioning(groups: list[dict]) -> list[str]:
    """The conditioning table: per requested label row, the mean ± s.d. of the oracle's predictions."""
    names = list(groups[0]["requested"])
    lines = ["## Conditioning", "", "Oracle-predicted activity of the sequences generated for each requested "
             "label row:", "",
             "| n | " + " | ".join(f"requested {n}" for n in names) + " | "
             + " | ".join(f"predicted {n} (mean ± s.d.)" for n in names) + " |",
             "|---" * (1 + 2 * len(names)) + "|"]
    for g in groups:
        lines.append(f"| {g['n']} | " + " | ".join(_fmt(g["requested"][n]) for n in names) + " | "
                     + " | ".join(f"{g['predicted_mean'][n]:.3f} ± {g['predicted_sd'][n]:.3f}" for n in names)
                     + " |")
    return lines + [""]
