"""Motif analysis (spec §9.7-9.8): FIMO scans (memelite) against JASPAR (pyjaspar, offline), motif enrichment and
co-occurrence.

- :func:`jaspar_motifs`: position frequency matrices of a JASPAR release (``[4, width]``, rows A, C, G, T).
- :func:`scan`: every FIMO hit (p < 1e-4, both strands) of every motif in every sequence, and the per-sequence count
  matrix ``[N, M]``.
- :func:`enrichment_pearson`: the paper's motif enrichment, the Pearson r between the per-motif hit totals of two
  sets (``scipy.stats.pearsonr``).
- :func:`cooccurrence_frobenius`: the paper's motif co-occurrence, the Frobenius norm of the difference between the
  motif covariance matrices of two sets (``np.cov`` with motifs as variables, sequences as observations).

Needs the ``motifs`` extra (``pip install 'd3core[motifs]'``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from d3core.errors import D3UserError
from d3core.evaluation.extras import require

DEFAULT_RELEASE = "JASPAR2022"
DEFAULT_COLLECTION = "CORE"
#: FIMO's default p-value threshold (as in the MEME suite and the original's pymemesuite scan)
DEFAULT_THRESHOLD = 1e-4
HIT_COLUMNS = ("sequence", "motif", "start", "end", "strand", "score", "p_value")


@dataclass
class MotifDatabase:
    """Motifs by name (``"MA0035.4 Gata1"``): frequency matrices ``float64 [4, width]`` (columns sum to 1)."""

    matrices: dict[str, np.ndarray]
    release: str
    collection: str
    tax_group: str | None = None

    @property
    def names(self) -> list[str]:
        return list(self.matrices)

    def describe(self) -> str:
        return f"{self.release} {self.collection}" + (f" {self.tax_group}" if self.tax_group else "") + \
            f" ({len(self.matrices)} motifs)"


def jaspar_motifs(release: str = DEFAULT_RELEASE, collection: str = DEFAULT_COLLECTION,
                  tax_group: str | None = None) -> MotifDatabase:
    """The motifs of a JASPAR release shipped with pyjaspar (no network): latest versions, ``collection`` (CORE,
    UNVALIDATED, ...), one taxonomic group (``insects``, ``vertebrates``, ``plants``, ...) or all."""
    jaspar = require("pyjaspar", "the JASPAR motif database")
    known = jaspar.jaspardb().get_releases()
    if release not in known:
        raise D3UserError(f"--jaspar-release {release!r}: not a JASPAR release pyjaspar ships ({', '.join(known)})")
    db = jaspar.jaspardb(release=release)
    motifs = db.fetch_motifs(collection=collection, tax_group=[tax_group] if tax_group else None)
    if not motifs:
        raise D3UserError(f"JASPAR {release} {collection}{f' {tax_group}' if tax_group else ''}: no motifs; check "
                          "--jaspar-tax-group (e.g. insects, vertebrates, plants, fungi, nematodes, urochordates)")
    matrices = {}
    for motif in motifs:
        counts = np.array([motif.counts[base] for base in "ACGT"], dtype=np.float64)
        matrices[f"{motif.matrix_id} {motif.name}"] = counts / counts.sum(axis=0, keepdims=True)
    return MotifDatabase(matrices, release, collection, tax_group)


@dataclass
class MotifScan:
    """FIMO hits of a database in a set of sequences.

    ``counts`` is ``int32 [N, M]`` (hits of motif m in sequence n, both strands); ``hits`` holds one row per hit:
    sequence index, motif name, 0-based start, end (exclusive), strand (+/-), score (bits), p-value.
    """

    counts: np.ndarray
    motif_names: list[str]
    hits: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def totals(self) -> np.ndarray:
        """Hits per motif over all sequences (``[M]``)."""
        return self.counts.sum(axis=0)

    def hits_of(self, sequence: int) -> list[dict]:
        """The hits in one sequence, by position."""
        rows = np.flatnonzero(self.hits["sequence"] == sequence)
        rows = rows[np.argsort(self.hits["start"][rows], kind="stable")]
        return [{c: self.hits[c][i].item() if hasattr(self.hits[c][i], "item") else self.hits[c][i]
                 for c in HIT_COLUMNS} for i in rows]


def scan(tokens: np.ndarray, database: MotifDatabase, *, threshold: float = DEFAULT_THRESHOLD) -> MotifScan:
    """FIMO (memelite, uniform background, both strands) of every motif over tokens ``[N, L]``."""
    memelite = require("memelite", "the motif scan (FIMO)")
    tokens = np.asarray(tokens)
    one_hot = np.eye(4, dtype=np.float32)[tokens.astype(np.int64)].transpose(0, 2, 1)
    names = database.names
    frames = memelite.fimo(database.matrices, np.ascontiguousarray(one_hot), threshold=threshold)
    counts = np.zeros((len(tokens), len(names)), dtype=np.int32)
    parts = {c: [] for c in HIT_COLUMNS}
    for m, frame in enumerate(frames):
        if not len(frame):
            continue
        sequence = frame["sequence_name"].to_numpy().astype(np.int64)
        np.add.at(counts[:, m], sequence, 1)
        parts["sequence"].append(sequence)
        parts["motif"].append(np.full(len(frame), names[m], dtype=object))
        parts["start"].append(frame["start"].to_numpy().astype(np.int64))
        parts["end"].append(frame["end"].to_numpy().astype(np.int64))
        parts["strand"].append(frame["strand"].to_numpy().astype(object))
        parts["score"].append(frame["score"].to_numpy().astype(np.float64))
        parts["p_value"].append(frame["p-value"].to_numpy().astype(np.float64))
    empty = {"sequence": np.int64, "motif": object, "start": np.int64, "end": np.int64, "strand": object,
             "score": np.float64, "p_value": np.float64}
    hits = {c: np.concatenate(v) if v else np.zeros(0, dtype=empty[c]) for c, v in parts.items()}
    return MotifScan(counts, names, hits)


def enrichment_pearson(counts_a: np.ndarray, counts_b: np.ndarray) -> float:
    """Pearson r between the per-motif hit totals of two sets (``[N_a, M]`` and ``[N_b, M]`` count matrices, or
    ``[M]`` totals); NaN when one set has the same total for every motif."""
    from d3core.evaluation.metrics import pearson

    a = np.asarray(counts_a, np.float64)
    b = np.asarray(counts_b, np.float64)
    a = a.sum(axis=0) if a.ndim == 2 else a
    b = b.sum(axis=0) if b.ndim == 2 else b
    return float(pearson(a, b)[0])


def cooccurrence_frobenius(counts_a: np.ndarray, counts_b: np.ndarray) -> float:
    """Frobenius norm of ``cov(a) - cov(b)``, the motif-by-motif covariance matrices (``[M, M]``) of two count
    matrices ``[N, M]`` (spec §9.8)."""
    a = np.asarray(counts_a, np.float64)
    b = np.asarray(counts_b, np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"motif counts differ: {a.shape[1]} vs {b.shape[1]}")
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    difference = np.atleast_2d(np.cov(a, rowvar=False)) - np.atleast_2d(np.cov(b, rowvar=False))
    return float(np.linalg.norm(difference, "fro"))
