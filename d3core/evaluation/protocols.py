"""Evaluation protocols (the settings ``d3 evaluate --protocol`` runs the metrics with) and the published figures
the ``paper`` protocol puts beside the user's numbers.

``quick`` (default) computes every metric with settings that run in minutes on a laptop CPU; ``paper`` uses the
settings of the D3 paper's evaluation (spec §9; the original ``Evaluation/`` code and notebooks).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from d3core.errors import D3UserError


@dataclass(frozen=True)
class Protocol:
    """Settings of one evaluation run. Sizes are upper bounds (smaller sets use what they have)."""

    name: str
    kmer_ks: tuple[int, ...] = (3, 4, 5, 6)
    #: discriminability: the classifier (``small`` CNN or the dataset's ``oracle`` architecture), the real set
    #: (``reference`` split or ``train``), and its training limits
    discriminator: str = "small"
    discriminator_real: str = "reference"
    discriminator_max_per_class: int = 5000
    discriminator_max_epochs: int = 20
    discriminator_patience: int = 3
    #: memorisation: nearest training sequence among at most this many training rows
    identity_rows: int | None = 20000
    #: motifs: JASPAR release and collection (the taxonomic group comes from the dataset plugin, else all)
    jaspar_release: str = "JASPAR2022"
    jaspar_collection: str = "CORE"
    #: attributions: how many sequences (the top by activity of ``attribution_label``), GradientShap settings
    attribution_sequences: int = 200
    attribution_backgrounds: int = 100
    attribution_samples: int = 20
    attribution_stdev: float = 0.1
    attribution_background_letters: int = 4
    radius_count_cutoff: float = 0.10
    #: peers' naturalness and activity checks: the top fraction of real training sequences by activity
    top_fraction: float = 0.001
    motifs: bool = True
    attributions: bool = True
    #: whether a missing optional library is an error (paper) or a note (quick)
    strict_extras: bool = False

    def with_overrides(self, **overrides: Any) -> "Protocol":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


PROTOCOLS = {
    "quick": Protocol("quick"),
    "paper": Protocol("paper", discriminator="oracle", discriminator_real="train",
                      discriminator_max_per_class=10 ** 9, discriminator_max_epochs=100, discriminator_patience=10,
                      attribution_sequences=1000, attribution_backgrounds=1000, attribution_samples=100,
                      attribution_background_letters=3, strict_extras=True),
}


def protocol(name: str, **overrides: Any) -> Protocol:
    """The named protocol with the given settings replaced (``None`` keeps the protocol's)."""
    try:
        return PROTOCOLS[name].with_overrides(**overrides)
    except KeyError:
        raise D3UserError(f"--protocol {name!r}: use one of {', '.join(PROTOCOLS)}") from None


#: Published figures: (dataset, architecture) -> metric -> (value, source). SP-MSE: test-label conditioning, the
#: paper's oracles (issue 16; also the d3-dna README's table). Attribution consistency: DeepSTARR, class 1 (hk),
#: the top 1000 test sequences by hk activity (the original consistency notebook: ground truth 0.52).
PUBLISHED: dict[tuple[str, str], dict[str, tuple[float, str]]] = {
    ("deepstarr", "tran"): {"sp_mse": (1.098, "D3 paper, D3-Tran"),
                            "attribution_consistency": (0.525, "D3 notebook, sm_tran, class 1")},
    ("deepstarr", "conv"): {"sp_mse": (1.139, "D3 paper, D3-Conv"),
                            "attribution_consistency": (0.504, "D3 notebook, sm_conv, class 1")},
    ("k562", "tran"): {"sp_mse": (0.199, "D3 paper, lentiMPRA K562, D3-Tran")},
    ("k562", "conv"): {"sp_mse": (0.219, "D3 paper, lentiMPRA K562, D3-Conv")},
    ("hepg2", "tran"): {"sp_mse": (0.445, "D3 paper, lentiMPRA HepG2, D3-Tran")},
    ("hepg2", "conv"): {"sp_mse": (0.468, "D3 paper, lentiMPRA HepG2, D3-Conv")},
}
#: published figures of the real sequences themselves (any architecture)
PUBLISHED_REFERENCE: dict[str, dict[str, tuple[float, str]]] = {
    "deepstarr": {"attribution_consistency_reference": (0.52, "D3 notebook, ground truth, class 1"),
                  "attribution_consistency_shuffled": (0.084, "D3 notebook, dinucleotide shuffle, class 1")},
}


def published_key(dataset: str, label_names: list[str]) -> str:
    """The row of :data:`PUBLISHED` for a dataset: its name, or for a one-label lentiMPRA oracle its cell type."""
    if dataset == "mpra" and len(label_names) == 1:
        return label_names[0].lower()
    return dataset.lower()


def published_figures(dataset: str, arch: str | None, label_names: list[str]) -> dict[str, tuple[float, str]]:
    """Metric -> (published value, source) for this dataset, oracle labels and architecture (Tran/Conv)."""
    key = published_key(dataset, label_names)
    figures = dict(PUBLISHED_REFERENCE.get(key, {}))
    if arch:
        figures.update(PUBLISHED.get((key, arch.lower()), {}))
    return figures
