"""Synthetic datasets with a known sequence -> activity rule: planted transcription-factor motifs.

Each sequence is random background DNA (GC content ``gc``) with instances of the dataset's motifs planted into it:

1. for every motif m, a requested count ``~ Poisson(rate_m)`` capped at ``max_per_motif``;
2. each instance is drawn from the motif's IUPAC consensus (every degenerate letter sampled uniformly), put on a random
   strand, and placed at a random offset inside its own non-overlapping slot (slot width = longest motif + 2 bp), so
   instances never overlap; when the slots run out, the rest of the requests is dropped;
3. the activity of label c is a linear function of the counts ``n_m`` of instances *actually planted*::

       y_c = baseline_c + sum_m effect_{m,c} * n_m + noise * eps,   eps ~ N(0, 1) independent per row and label

The planted counts are stored beside the data (``d3_synth/counts_{split}``, ``[N, M]`` uint8) and the motif table,
formula and seed in the attributes of the ``d3_synth`` group, so a model conditioned on high ``y_c`` can be checked for
the motifs that drive c. Motif occurrences that arise by chance in the background are not counted (rare for motifs of
6 bp and more). Everything is a function of ``seed``: the same call writes the same file.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from d3core.data.encoding import IUPAC
from d3core.data.layout import SPLITS, H5Layout, H5Writer
from d3core.errors import D3UserError
from d3core.progress import progress_bar

FORMULA = "y_c = baseline_c + sum_m effect[m][c] * count_m + noise * N(0, 1)"


@dataclass(frozen=True)
class Motif:
    """A transcription-factor motif to plant.

    Attributes:
        name: short name (``"GATA"``).
        consensus: IUPAC consensus (``"WGATAR"``).
        effects: label name -> activity added per planted instance (labels not named: 0).
        rate: mean number of instances requested per sequence (Poisson).
        note: the factor(s) and the source of the consensus.
    """

    name: str
    consensus: str
    effects: Mapping[str, float] = field(default_factory=dict)
    rate: float = 0.5
    note: str = ""

    def __post_init__(self):
        bad = sorted(set(self.consensus.upper()) - set(IUPAC))
        if bad:
            raise ValueError(f"motif {self.name}: consensus {self.consensus!r} has non-IUPAC letters {bad}")


def split_sizes(n_train: int) -> dict[str, int]:
    """Rows per split for ``--n n_train``: valid and test get ``max(4, ceil(n_train / 10))`` rows each."""
    if n_train < 1:
        raise D3UserError(f"--n {n_train}: the number of training rows must be at least 1")
    other = max(4, math.ceil(n_train / 10))
    return {"train": n_train, "valid": other, "test": other}


def effect_matrix(motifs: Sequence[Motif], label_names: Sequence[str]) -> np.ndarray:
    """``[M, C]`` activity added per planted instance."""
    return np.array([[float(m.effects.get(c, 0.0)) for c in label_names] for m in motifs], dtype=np.float64)


def plant_motifs(n: int, length: int, motifs: Sequence[Motif], rng: np.random.Generator, *, gc: float = 0.5,
                 max_per_motif: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Random background with planted motif instances.

    Returns:
        ``(tokens uint8 [n, length], counts uint8 [n, M])`` -- counts of the instances actually planted.
    """
    at, cg = (1.0 - gc) / 2, gc / 2
    tokens = rng.choice(4, size=(n, length), p=[at, cg, cg, at]).astype(np.uint8)
    counts = np.zeros((n, len(motifs)), dtype=np.uint8)
    if not motifs or n == 0:
        return tokens, counts
    width = max(len(m.consensus) for m in motifs) + 2
    n_slots = length // width
    if n_slots == 0:
        raise D3UserError(f"sequence length {length} is shorter than the longest motif ({width - 2} bp)")
    slot_order = np.argsort(rng.random((n, n_slots)), axis=1)
    used = np.zeros(n, dtype=np.int64)
    requested = np.minimum(rng.poisson([m.rate for m in motifs], size=(n, len(motifs))), max_per_motif)
    for mi, motif in enumerate(motifs):
        choices = [np.array(["ACGT".index(b) for b in IUPAC[ch]], dtype=np.uint8) for ch in motif.consensus.upper()]
        k = len(choices)
        for copy in range(max_per_motif):
            rows = np.nonzero((requested[:, mi] > copy) & (used < n_slots))[0]
            if rows.size == 0:
                continue
            slot = slot_order[rows, used[rows]]
            used[rows] += 1
            counts[rows, mi] += 1
            start = slot * width + rng.integers(0, width - k + 1, size=rows.size)
            inst = np.stack([c[rng.integers(0, len(c), size=rows.size)] for c in choices], axis=1)  # [r, k]
            flip = rng.random(rows.size) < 0.5
            inst[flip] = 3 - inst[flip, ::-1]  # reverse complement: A<->T (0<->3), C<->G (1<->2)
            tokens[rows[:, None], start[:, None] + np.arange(k)] = inst
    return tokens, counts


def motif_activity(counts: np.ndarray, motifs: Sequence[Motif], label_names: Sequence[str],
                   baseline: Mapping[str, float], noise: float, rng: np.random.Generator) -> np.ndarray:
    """Labels ``float32 [n, C]`` from planted counts, by :data:`FORMULA`."""
    base = np.array([float(baseline.get(c, 0.0)) for c in label_names])
    y = base + counts.astype(np.float64) @ effect_matrix(motifs, label_names)
    y += noise * rng.standard_normal(y.shape)
    return y.astype(np.float32)


def synthesize_file(out: str | os.PathLike, *, dataset: str, layout: H5Layout, label_names: Sequence[str],
                    motifs: Sequence[Motif], baseline: Mapping[str, float], noise: float, gc: float, n_train: int,
                    seed: int = 0, x_dtype: str = "uint8", overwrite: bool = False, progress: bool = False,
                    chunk_rows: int = 65536, max_per_motif: int = 3) -> Path:
    """Write a synthetic dataset file in ``layout`` with ``n_train`` training rows (see the module docstring).

    Rows are generated in chunks of ``chunk_rows`` (memory stays flat for any ``n_train``); chunk k of split s uses
    the generator ``np.random.default_rng([seed, s, k])``.
    """
    sizes = split_sizes(int(n_train))
    source = {"kind": "synthetic", "seed": int(seed), "n_train": int(n_train), "formula": FORMULA,
              "baseline": dict(baseline), "noise": noise, "gc": gc, "max_per_motif": max_per_motif,
              "motifs": [asdict(m) | {"effects": dict(m.effects)} for m in motifs]}
    bar = progress_bar(sum(sizes.values()), f"synth {dataset}", enabled=progress)
    try:
        with H5Writer(out, layout, label_names, attrs={"d3_dataset": dataset, "d3_source": source},
                      x_dtype=x_dtype, overwrite=overwrite) as writer:
            group = writer.file.create_group("d3_synth")
            group.attrs["motifs"] = json.dumps([m.name for m in motifs])
            group.attrs["formula"] = FORMULA
            group.attrs["seed"] = int(seed)
            for si, split in enumerate(SPLITS):
                n = sizes[split]
                writer.create_split(split, n)
                counts_ds = group.create_dataset(f"counts_{split}", shape=(n, len(motifs)), dtype=np.uint8)
                for ci, start in enumerate(range(0, n, chunk_rows)):
                    rows = min(chunk_rows, n - start)
                    rng = np.random.default_rng([int(seed), si, ci])
                    tokens, counts = plant_motifs(rows, layout.length, motifs, rng, gc=gc,
                                                  max_per_motif=max_per_motif)
                    labels = motif_activity(counts, motifs, label_names, baseline, noise, rng)
                    writer.write_rows(split, start, tokens, labels)
                    counts_ds[start:start + rows] = counts
                    bar.update(rows)
    finally:
        bar.close()
    return Path(out)
