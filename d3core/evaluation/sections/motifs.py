"""FIMO against JASPAR: motif enrichment (§9.7), co-occurrence (§9.8), the peers' top-sequence motif correlation,
and the hits of every design (``motif_hits.tsv``; the first designs' in report.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from d3core.evaluation.sections.base import Run, Section

#: designs listed with their motif hits in report.md (all are in motif_hits.tsv)
REPORT_DESIGNS = 20


def compute(run: Run) -> None:
    """``motif_*`` metrics, ``motif_hits.tsv``; ``extra``: ``scan`` (the designs' hits), ``database``. Without the
    ``motifs`` extra: a note (an error under a strict protocol)."""
    from d3core.evaluation import motifs
    from d3core.evaluation.extras import MissingExtraError

    p = run.protocol
    tax_group = getattr(run.dataset, "jaspar_tax_group", None)
    try:
        database = motifs.jaspar_motifs(p.jaspar_release, p.jaspar_collection, tax_group)
        gen_scan = motifs.scan(run.gen, database)
        ref_counts = run.cache.get(
            "motif_counts_reference", {"database": database.describe(), "tax_group": tax_group},
            lambda: {"counts": motifs.scan(run.ref_tokens, database).counts})["counts"]
    except MissingExtraError as exc:
        run.optional("motif metrics", exc)
        return
    run.metrics["motif_enrichment_pearson"] = motifs.enrichment_pearson(ref_counts, gen_scan.counts)
    run.metrics["motif_cooccurrence_frobenius"] = motifs.cooccurrence_frobenius(ref_counts, gen_scan.counts)
    run.subsampling_se("motif_enrichment_pearson",
                       lambda rows: motifs.enrichment_pearson(ref_counts[rows], gen_scan.counts))
    run.subsampling_se("motif_cooccurrence_frobenius",
                       lambda rows: motifs.cooccurrence_frobenius(ref_counts[rows], gen_scan.counts))
    run.metrics["motif_hits_per_sequence"] = float(gen_scan.counts.sum(axis=1).mean())
    run.metrics["motif_hits_per_sequence_reference"] = float(ref_counts.sum(axis=1).mean())
    for name, rows in run.top_rows().items():
        top_scan = motifs.scan(run.train_tokens(rows), database)
        run.metrics[f"motif_pearson_top_{name}"] = motifs.enrichment_pearson(top_scan.counts, gen_scan.counts)
    _write_hits(run.out_dir / "motif_hits.tsv", gen_scan)
    run.extra.update(scan=gen_scan, database=database)
    run.extra.setdefault("inputs", {})["motif_database"] = database.describe()
    run.say(f"motifs ({database.describe()}): enrichment r {run.metrics['motif_enrichment_pearson']:.3f}, "
            f"co-occurrence distance {run.metrics['motif_cooccurrence_frobenius']:.3f}")


def _write_hits(path: Path, scan) -> None:
    from d3core.atomic import atomic_write_text

    hits = scan.hits
    lines = ["\t".join(("design", "motif", "start", "end", "strand", "score", "p_value"))]
    order = np.lexsort((hits["start"], hits["sequence"]))
    for i in order:
        lines.append(f"d3_{hits['sequence'][i]}\t{hits['motif'][i]}\t{hits['start'][i]}\t{hits['end'][i]}\t"
                     f"{hits['strand'][i]}\t{hits['score'][i]:.3f}\t{hits['p_value'][i]:.3g}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def render(run: Run) -> list[str]:
    """The first :data:`REPORT_DESIGNS` designs with their oracle predictions and motif hits (none without a scan)."""
    scan = run.extra.get("scan")
    if scan is None or not len(run.gen):
        return []
    predicted = run.extra.get("predicted")
    n = min(REPORT_DESIGNS, len(run.gen))
    lines = ["## Motif hits per design", "", f"The first {n} designs (all hits: `motif_hits.tsv`).", "",
             "| design | predicted | motif hits (name@start strand) |", "|---|---|---|"]
    for i in range(n):
        shown = "" if predicted is None else ", ".join(f"{name} {float(predicted[i, c]):.3f}"
                                                       for c, name in enumerate(run.oracle.label_names))
        hits = [f"{h['motif'].split(' ', 1)[-1]}@{h['start']}{h['strand']}" for h in scan.hits_of(i)]
        lines.append(f"| d3_{i} | {shown or 'n/a'} | {', '.join(hits) or '—'} |")
    return lines + [""]


SECTION = Section("motifs", compute, render=render, directions={
    "motif_enrichment_pearson": "higher", "motif_cooccurrence_frobenius": "lower", "motif_pearson_top_*": "higher"},
    applies=lambda run: run.protocol.motifs)
