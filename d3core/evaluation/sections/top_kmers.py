"""The peers' naturalness check: Pearson r of 3-mer counts with the top real training sequences by activity."""
from __future__ import annotations

from d3core.evaluation import metrics as M
from d3core.evaluation.sections.base import Run, Section


def compute(run: Run) -> None:
    """``kmer3_pearson_top_<label>`` per label of the dataset file."""
    generated = M.kmer_counts(run.gen, 3)
    for name, rows in run.top_rows().items():
        top = M.kmer_counts(run.train_tokens(rows), 3)
        run.metrics[f"kmer3_pearson_top_{name}"] = float(M.pearson(generated, top)[0])


SECTION = Section("top_kmers", compute, directions={"kmer3_pearson_top_*": "higher"})
