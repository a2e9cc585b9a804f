"""PNG plots of an evaluation (matplotlib, Agg backend: no display needed). Each function writes one file."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from d3core.atomic import write_atomically

    try:
        return write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        _pyplot().close(fig)


def predicted_vs_requested(path: Path, requested: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> Path:
    """Per label: oracle-predicted activity of each generated sequence against the activity it was asked for."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4), squeeze=False)
    rng = np.random.default_rng(0)
    for c, (ax, name) in enumerate(zip(axes[0], names)):
        x, y = requested[:, c], predicted[:, c]
        distinct = np.unique(x)
        jitter = rng.uniform(-0.04, 0.04, size=x.shape) * (np.ptp(x) or 1.0) if len(distinct) <= 12 else 0.0
        ax.scatter(x + jitter, y, s=8, alpha=0.5, color="tab:blue", label="generated")
        if len(distinct) <= 12:
            means = [y[x == v].mean() for v in distinct]
            ax.plot(distinct, means, "o-", color="tab:red", label="group mean")
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], "--", color="grey", linewidth=1, label="y = x")
        ax.set_xlabel(f"requested {name}")
        ax.set_ylabel(f"oracle-predicted {name}")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.suptitle("Conditioning: oracle-predicted vs requested activity")
    return _save(fig, path)


def activity_distributions(path: Path, generated: np.ndarray, reference: np.ndarray, names: Sequence[str],
                           reference_name: str) -> Path:
    """Per label: histograms of oracle predictions on generated and reference sequences."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for c, (ax, name) in enumerate(zip(axes[0], names)):
        both = np.concatenate([generated[:, c], reference[:, c]])
        bins = np.linspace(both.min(), both.max() + 1e-9, 31)
        ax.hist(reference[:, c], bins=bins, density=True, alpha=0.5, label=f"{reference_name} (real)")
        ax.hist(generated[:, c], bins=bins, density=True, alpha=0.5, label="generated")
        ax.set_xlabel(f"oracle-predicted {name}")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    fig.suptitle("Predicted activity distributions")
    return _save(fig, path)


def kmer_spectra(path: Path, spectra: dict[int, tuple[np.ndarray, np.ndarray]], js: dict[int, float]) -> Path:
    """For each k: frequency of every k-mer in the real set (x) against the generated set (y), log-log."""
    plt = _pyplot()
    ks = sorted(spectra)
    fig, axes = plt.subplots(1, len(ks), figsize=(3.6 * len(ks), 3.6), squeeze=False)
    for ax, k in zip(axes[0], ks):
        real, generated = spectra[k]
        positive = np.concatenate([real[real > 0], generated[generated > 0]])
        floor = float(positive.min()) / 2 if positive.size else 1e-6  # empty k-mers drawn at half the rarest one
        ax.scatter(np.maximum(real, floor), np.maximum(generated, floor), s=4, alpha=0.4)
        lo, hi = floor, float(max(real.max(), generated.max()))
        ax.plot([lo, hi], [lo, hi], "--", color="grey", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import NullFormatter

        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(f"k = {k}: JS distance {js[k]:.3f}")
        ax.set_xlabel("real frequency")
        ax.set_ylabel("generated frequency")
    fig.suptitle("k-mer spectra, real vs generated")
    return _save(fig, path)


def histograms(path: Path, series: dict[str, np.ndarray], xlabel: str, title: str, bins: int = 30) -> Path:
    """Overlaid density histograms of named 1-D series."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    values = np.concatenate([np.asarray(v, dtype=float) for v in series.values()])
    edges = np.linspace(values.min(), values.max() + 1e-9, bins + 1)
    for name, v in series.items():
        ax.hist(v, bins=edges, density=True, alpha=0.5, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def mutation_heatmap(path: Path, delta: np.ndarray, reference: str, title: str) -> Path:
    """Heat map of a single-base substitution scan: ``delta [4, L]`` (rows A, C, G, T; nats, 0 at the reference base,
    marked with a dot), a diverging colour scale centred on 0 (red: the substitution makes the sequence less likely)."""
    plt = _pyplot()
    delta = np.asarray(delta, dtype=float)
    length = delta.shape[1]
    fig, ax = plt.subplots(figsize=(min(max(6.0, length * 0.08), 40.0), 2.6))
    limit = float(np.abs(delta).max()) or 1.0
    image = ax.imshow(delta, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ref_rows = ["ACGT".index(base) for base in reference]
    ax.scatter(np.arange(length), ref_rows, s=4, c="black", marker=".")
    ax.set_yticks(range(4), list("ACGT"))
    ax.set_xlabel("position")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, pad=0.01, label="change of the bound (nats)")
    return _save(fig, path)


def attribution_logos(path: Path, tokens: np.ndarray, attributions: np.ndarray, titles: Sequence[str], *,
                      window: int = 100) -> Path:
    """One logomaker logo per sequence: its attribution map times its one-hot sequence (the observed base's score at
    each position), as in the paper's figures, over ``window`` bp centred on the strongest position (logomaker draws
    every glyph, about 8 ms each). ``tokens [n, L]``, ``attributions [n, L, 4]``."""
    from d3core.evaluation.extras import require

    logomaker = require("logomaker", "attribution logos")
    import pandas as pd

    plt = _pyplot()
    n, length = tokens.shape
    window = min(int(window), length)
    fig, axes = plt.subplots(n, 1, figsize=(0.12 * window + 2, 1.5 * n), squeeze=False)
    for ax, seq, attr, title in zip(axes[:, 0], tokens, attributions, titles):
        values = attr * np.eye(4, dtype=np.float32)[seq.astype(np.int64)]
        centre = int(np.abs(values).sum(axis=1).argmax())
        start = max(0, min(centre - window // 2, length - window))
        frame = pd.DataFrame(values[start:start + window], columns=list("ACGT"),
                             index=np.arange(start, start + window))
        logomaker.Logo(frame, ax=ax)
        ax.set_title(f"{title} (positions {start}-{start + window - 1})", fontsize=9, loc="left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle("Attribution maps (GradientShap x input)")
    return _save(fig, path)
