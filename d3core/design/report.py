"""The design report: activity and naturalness side by side (``report.md`` + PNG plots in one folder).

What it shows, for the designs and for real sequences of the dataset (the validation split):

- the guiding oracle (and the judge, when given: the honest measure, since the designs were optimised against the
  guide) and the objective;
- activity: the objective and every oracle prediction (mean, median), the judge's predictions;
- naturalness: the likelihood bound (bits per base; lower = more likely under the model), the 3- and 6-mer spectrum
  distance (Jensen-Shannon, base 2) to the real sequences with the highest objective beside the real-vs-real
  baseline, identity to the nearest training sequence (memorisation);
- plots: objective against likelihood (designs and real sequences), activity distributions (guide, and judge).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from d3core.data.encoding import decode
from d3core.design.driver import DesignSet
from d3core.design.measure import kmer_distance, nearest_identity

#: real rows read for the report (validation split) and for the nearest-training identity (train split)
REAL_ROWS, TRAIN_ROWS = 512, 4000


@dataclass
class RealSequences:
    """Real sequences beside the designs: validation ``tokens [n, L]`` with the guide's ``objective [n]`` and
    ``predictions``, their ``bits_per_base`` (or None), the judge's predictions (or None), and ``train`` tokens."""

    tokens: np.ndarray
    predictions: np.ndarray
    objective: np.ndarray
    bits_per_base: np.ndarray | None
    judge: np.ndarray | None
    train: np.ndarray


def real_sequences(sm, guide, objective, *, judge=None, likelihood_samples: int = 0, seed: int = 0, data=None,
                   bits_per_base: np.ndarray | None = None) -> RealSequences:
    """Score the dataset's validation sequences (guide, judge, likelihood) and read training rows for identity."""
    from d3core.scoring.inputs import read_split

    valid = read_split(sm, "valid", data=data, limit=REAL_ROWS)
    train = read_split(sm, "train", data=data, limit=TRAIN_ROWS).tokens
    predictions = np.asarray(guide.predict(valid.tokens.astype(np.int64)), dtype=np.float64)
    if bits_per_base is None and likelihood_samples:
        from d3core.scoring import score_sequences

        labels = valid.labels if sm.num_labels else None
        bits_per_base = score_sequences(sm, valid.tokens, labels, samples=likelihood_samples, seed=seed).bits_per_base
    judged = None if judge is None else np.asarray(judge.predict(valid.tokens.astype(np.int64)), dtype=np.float64)
    values = objective(predictions, unit="validation sequence")
    return RealSequences(valid.tokens, predictions, values, bits_per_base, judged, train)


def _stats(values) -> str:
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.3f} / {np.median(values):.3f}"


def naturalness(designs: DesignSet, real: RealSequences, k: int) -> dict[str, float]:
    """k-mer distance of the designs to the real sequences with the top quarter of the objective, and the
    distance of as many other real sequences as there are designs to that same top quarter (the real-vs-real
    baseline: k-mer distances grow as sets shrink, so the baseline has the designs' size)."""
    order = np.argsort(-real.objective)
    top, rest = order[: max(1, len(order) // 4)], order[max(1, len(order) // 4):]
    rest = np.random.default_rng(0).permutation(rest)[:len(designs)]
    return {"designs": kmer_distance(designs.tokens, real.tokens[top], k),
            "real": kmer_distance(real.tokens[rest], real.tokens[top], k) if len(rest) else float("nan")}


def write_report(folder: str | os.PathLike, designs: DesignSet, real: RealSequences, *, guide_name: str,
                 judge_name: str | None = None, baseline: DesignSet | None = None) -> Path:
    """Write ``folder/report.md`` and its plots; returns the path of ``report.md``. ``baseline``: the same request
    sampled without guidance (``--method none``), shown beside the designs when given."""
    from d3core.atomic import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = designs.metadata
    settings = meta.get("design", {})
    sets = [("designs", designs)] + ([("plain sampling (same seed)", baseline)] if baseline is not None else [])
    lines = [f"# Design report: {meta.get('objective')}", "",
             f"- model: `{meta.get('checkpoint')}`; {len(designs)} designs of {designs.tokens.shape[1]} bp",
             f"- guiding oracle: `{guide_name}` (the designs were optimised against it: its predictions flatter them)",
             f"- judging oracle: `{judge_name}` (did not guide)" if judge_name else
             "- judging oracle: none given (pass --judge ORACLE2, an oracle that did not guide, for an honest "
             "measure)",
             _method_line(meta) + f"; {meta.get('steps')} steps, guidance {meta.get('guidance')}, seed "
             f"{meta.get('seed')}",
             f"- time: {meta.get('seconds', 0):.1f} s, {meta.get('seconds_per_design', 0):.3f} s per design on "
             f"{meta.get('device')}"]
    if meta.get("leash"):
        passed = designs.columns.get("leash")
        lines.append(f"- leash: bound <= {meta['leash']['threshold']:.4f} bits per base ({meta['leash']['source']}); "
                     f"{int(passed.sum()) if passed is not None else len(designs)}/{len(designs)} designs pass")
    judged = _judge_names(designs)
    judge_objective = "judge:objective" in designs.columns and real.judge is not None
    lines += ["", "## Activity (mean / median)", "",
              "| set | objective (guide) | " + ("objective (judge) | " if judge_objective else "")
              + " | ".join(f"guide {n}" for n in designs.prediction_names)
              + "".join(f" | judge {n}" for n in judged) + " |",
              "|---" * (2 + judge_objective + len(designs.prediction_names) + len(judged)) + "|"]
    for name, ds in sets:
        row = [name, _stats(ds.objective)] + ([_stats(ds.columns["judge:objective"])] if judge_objective else [])
        row += [_stats(ds.predictions[:, i]) for i in range(ds.predictions.shape[1])]
        row += [_stats(ds.columns[f"judge:{n}"]) if f"judge:{n}" in ds.columns else "-" for n in judged]
        lines.append("| " + " | ".join(row) + " |")
    real_row = [f"real (validation, {len(real.tokens)})", _stats(real.objective)]
    if judge_objective:
        from d3core.design.objective import parse_objective

        real_row.append(_stats(parse_objective(str(meta.get("objective")), judged)(real.judge)))
    real_row += [_stats(real.predictions[:, i]) for i in range(real.predictions.shape[1])]
    real_row += [_stats(real.judge[:, i]) if real.judge is not None else "-" for i in range(len(judged))]
    lines.append("| " + " | ".join(real_row) + " |")
    lines += ["", "## Naturalness", "",
              "| set | bits per base (mean, lower = more likely) | 3-mer JS to top real | 6-mer JS to top real | "
              "nearest training identity (mean, max) |", "|---|---|---|---|---|"]
    for name, ds in sets:
        identity = nearest_identity(ds.tokens, real.train)
        bpb = ds.columns.get("bits_per_base")
        lines.append(f"| {name} | {'-' if bpb is None else f'{np.mean(bpb):.4f}'} | "
                     f"{naturalness(ds, real, 3)['designs']:.4f} | {naturalness(ds, real, 6)['designs']:.4f} | "
                     f"{identity.mean():.3f}, {identity.max():.3f} |")
    real_identity = nearest_identity(real.tokens, real.train)
    lines.append(f"| real (validation) | {'-' if real.bits_per_base is None else f'{np.mean(real.bits_per_base):.4f}'}"
                 f" | {naturalness(designs, real, 3)['real']:.4f} (real vs real) | "
                 f"{naturalness(designs, real, 6)['real']:.4f} (real vs real) | {real_identity.mean():.3f}, "
                 f"{real_identity.max():.3f} |")
    lines += _synthesis_section(sets, real, meta)
    lines += _per_design_section(designs)
    lines += _edits_section(designs)
    lines += ["", "The k-mer distances compare each set with the real validation sequences whose objective is in the "
              "top quarter; the real row is the rest of the validation set against that quarter (what natural "
              "variation costs). Designs far above it, or far less likely than real sequences, are what an "
              "optimiser that only follows the oracle makes (reward hacking): judge them with a second oracle and "
              "keep a leash (--min-likelihood p5).", ""]
    lines += _plots(folder, sets, real, designs)
    return atomic_write_text(folder / "report.md", "\n".join(lines) + "\n")


#: designs listed one by one in the report (the best by the guide's objective)
TOP_DESIGNS = 20


def _method_line(meta: dict) -> str:
    """``- method: ...``: the steering settings, and for evolve the search's settings and spend."""
    settings = meta.get("design", {})
    if settings.get("method") != "evolve":
        return (f"- method: {settings.get('method')}, {settings.get('candidates')} candidates, temperature "
                f"{settings.get('temperature')}, value estimate {settings.get('estimate')}")
    evolve = meta["evolve"]
    rounds = ", ".join(str(r["rounds"]) for r in evolve["requests"])
    return (f"- method: evolve, population {evolve['population']}, rounds run {rounds} (of {evolve['rounds']}), "
            + (f"{evolve['renoise'] * 100:g}% of positions in-filled" if evolve.get("renoise_positions") else
               f"re-noised to t = {evolve['renoise']}")
            + (f", children in {evolve['child_steps']} step(s)" if evolve.get("child_steps") else "")
            + f", ESS target {evolve['ess']} x P, archive distance > "
            f"{evolve['distance']}" + (f", at most {evolve['max_edits']} edits" if evolve["max_edits"] else "")
            + (", output: the archive's Pareto front" if evolve["pareto"] else "")
            + f"; {meta['oracle_calls']} oracle calls, {meta['network_rows']} sequence-steps of the model")


def _edits_section(designs: DesignSet) -> list[str]:
    """Designs made from start sequences: each one's edits, and its sequence with the edited letters in lower
    case."""
    if "edits" not in designs.columns or not len(designs):
        return []
    lines = ["", "## Edits from the start sequences", "",
             "Positions count from 1; edited letters are in lower case.", "",
             "| design | start | edits | objective (guide) | sequence |", "|---|---|---|---|---|"]
    for i, (edits, sequence) in enumerate(zip(designs.columns["edits"], decode(designs.tokens))):
        letters = list(sequence)
        for edit in filter(None, str(edits).split(";")):
            position = int(edit.split(":", 1)[0]) - 1
            letters[position] = letters[position].lower()
        request = int(designs.columns["request"][i]) + 1 if "request" in designs.columns else "-"
        lines.append(f"| {i} | {request} | {edits or '(none)'} | {designs.objective[i]:.3f} | `{''.join(letters)}` |")
    return lines


def _synthesis_section(sets, real: RealSequences, meta: dict) -> list[str]:
    """GC and the longest homopolymer of every set beside the real sequences, and what the synthesis rules left
    out: a likelihood leash alone lets GC-rich, low-complexity designs through."""
    from d3core.generation.constraints import gc_fraction, longest_homopolymer

    lines = ["", "## Synthesis", "", "| set | GC mean (min-max) | longest homopolymer (median, max) |", "|---|---|---|"]
    for name, tokens in [(n, ds.tokens) for n, ds in sets] + [("real (validation)", real.tokens)]:
        if not len(tokens):
            continue
        gc, runs = gc_fraction(tokens), longest_homopolymer(tokens)
        lines.append(f"| {name} | {gc.mean():.3f} ({gc.min():.3f}-{gc.max():.3f}) | {np.median(runs):.0f}, "
                     f"{runs.max()} |")
    synthesis = meta.get("synthesis")
    if synthesis:
        rules = synthesis["rules"]
        parts = [f"GC {rules['gc'][0]}-{rules['gc'][1]}" if rules.get("gc") else None,
                 f"homopolymers <= {rules['max_homopolymer']}" if rules.get("max_homopolymer") else None,
                 f"no {', '.join(rules['avoid'])} (both strands)" if rules.get("avoid") else None]
        failed = ", ".join(f"{k} {v}" for k, v in synthesis["failed_by_rule"].items())
        lines += ["", f"Synthesis rules: {'; '.join(p for p in parts if p)}"
                  + (f", checked on adapter + sequence + adapter ({' / '.join(rules['flanks'])})"
                     if any(rules.get("flanks") or ()) else "")
                  + f". Every design listed meets them; {synthesis['failed']} broke a rule after "
                  f"{rules['attempts']} in-fill redraws and were left out" + (f" ({failed})." if failed else ".")]
    return lines


def _per_design_section(designs: DesignSet) -> list[str]:
    """The best designs one by one: every label's predicted activity under the guide (and its spread across an
    ensemble) and the judge, the objective (MinGap with --specific-to) under both, GC, longest homopolymer,
    likelihood."""
    if not len(designs):
        return []
    specific = designs.metadata.get("specific_to")
    what = f"MinGap for {specific}" if specific else "objective"
    judged = _judge_names(designs)
    spread = [n for n in designs.prediction_names if f"guide_sd:{n}" in designs.columns]
    headers = ["design", f"{what} (guide)"] + [f"guide {n}" for n in designs.prediction_names]
    headers += [f"guide sd {n}" for n in spread]
    if "judge:objective" in designs.columns:
        headers.append(f"{what} (judge)")
    headers += [f"judge {n}" for n in judged] + ["GC", "longest homopolymer"]
    headers += ["bits per base"] if "bits_per_base" in designs.columns else []
    lines = ["", f"## The {min(TOP_DESIGNS, len(designs))} best designs (by the guide's {what})", "",
             "| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
    for i in np.argsort(-designs.objective, kind="stable")[:TOP_DESIGNS]:
        row = [str(int(i)), f"{designs.objective[i]:.3f}"]
        row += [f"{designs.predictions[i, c]:.3f}" for c in range(len(designs.prediction_names))]
        row += [f"{designs.columns[f'guide_sd:{n}'][i]:.3f}" for n in spread]
        if "judge:objective" in designs.columns:
            row.append(f"{designs.columns['judge:objective'][i]:.3f}")
        row += [f"{designs.columns[f'judge:{n}'][i]:.3f}" for n in judged]
        row += [f"{designs.columns['gc'][i]:.3f}" if "gc" in designs.columns else "-",
                f"{designs.columns['longest_homopolymer'][i]:.0f}" if "longest_homopolymer" in designs.columns
                else "-"]
        row += [f"{designs.columns['bits_per_base'][i]:.4f}"] if "bits_per_base" in designs.columns else []
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _judge_names(designs: DesignSet) -> list[str]:
    """The judge's label names (its prediction columns; ``judge:objective`` is the objective under it)."""
    return [name.split(":", 1)[1] for name in designs.columns
            if name.startswith("judge:") and name != "judge:objective"]


def _plots(folder: Path, sets, real: RealSequences, designs: DesignSet) -> list[str]:
    from d3core.evaluation.plots import _pyplot, _save, activity_distributions

    lines = ["## Plots", ""]
    if "bits_per_base" in designs.columns and real.bits_per_base is not None:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ax.scatter(real.bits_per_base, real.objective, s=8, alpha=0.4, color="grey", label="real (validation)")
        for (name, ds), color in zip(sets, ("tab:red", "tab:blue")):
            ax.scatter(ds.columns["bits_per_base"], ds.objective, s=12, alpha=0.7, color=color, label=name)
        if (designs.metadata.get("evolve") or {}).get("pareto"):
            order = np.argsort(designs.columns["bits_per_base"])
            ax.step(designs.columns["bits_per_base"][order], designs.objective[order], where="post", color="tab:red",
                    linewidth=1, label="Pareto front (archive)")
        ax.set_xlabel("likelihood bound, bits per base (lower = more likely)")
        ax.set_ylabel(f"objective {designs.metadata.get('objective')} (guide)")
        ax.legend(fontsize=8)
        ax.set_title("Objective against likelihood")
        _save(fig, folder / "objective_vs_likelihood.png")
        lines += ["![objective against likelihood](objective_vs_likelihood.png)", ""]
    activity_distributions(folder / "activity_guide.png", designs.predictions, real.predictions,
                           designs.prediction_names, "validation")
    lines += ["![guide-predicted activity](activity_guide.png)", ""]
    judged = _judge_names(designs)
    if judged and real.judge is not None:
        values = np.stack([designs.columns[f"judge:{n}"] for n in judged], axis=1)
        activity_distributions(folder / "activity_judge.png", values, real.judge, judged, "validation")
        lines += ["![judge-predicted activity](activity_judge.png)", ""]
    return lines
