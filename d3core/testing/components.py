"""The tiny test components: ``tiny-dna`` (dataset) and ``tiny-arch`` (architecture); ``two-motifs`` (a dataset
with a strong, known motif -> activity rule, for conditioning tests and benchmarks); ``three-cells`` (three cell
types with motifs of their own and shared activators, for specificity).

Both follow the public contracts (:class:`d3core.data.SequenceDataset`, :class:`d3core.architecture.Architecture`),
so they pair with any plugin under test: a dataset plugin trains against ``tiny-arch``, an architecture plugin on
``tiny-dna``, a checkpoint format converts a ``tiny-dna``/``tiny-arch`` checkpoint.
"""
from __future__ import annotations

from typing import Any

from d3core.architecture import Architecture
from d3core.data.base import SequenceDataset
from d3core.data.synth import Motif
from d3core.errors import D3UserError

#: motifs planted by :meth:`TinyDataset.synthesize` (activity = sum of effects x counts + noise)
TINY_MOTIFS = (
    Motif("GATA", "WGATAR", {"activity": 1.0}, rate=0.7, note="GATA consensus"),
    Motif("DRE", "TATCGATA", {"activity": -0.8}, rate=0.5, note="DRE element (Dref)"),
)


class TinyDataset(SequenceDataset):
    """32 bp synthetic DNA with one global label ``activity``, in the DeepSTARR layout (``X_*`` ``[N, 4, 32]``)."""

    name = "tiny-dna"
    description = "tests only: 32 bp synthetic DNA, one label"
    length = 32
    label_names = ("activity",)
    label_mode = "global"
    filename = "tiny-dna.h5"
    motifs = TINY_MOTIFS
    synth_baseline = {"activity": 0.0}
    synth_noise = 0.2


class TwoMotifDataset(SequenceDataset):
    """100 bp, DeepSTARR's layout and labels, two strong planted motifs: AP-1 drives ``dev``, Dref drives ``hk``
    (about one of each per sequence). The ground truth of a design is its motif count, so conditioning and guidance
    can be measured without an oracle. Not registered by default: register it where it is used."""

    name = "two-motifs"
    description = "DeepSTARR layout, 100 bp, AP-1 -> dev and Dref -> hk (conditioning tests and benchmarks)"
    length = 100
    label_names = ("dev", "hk")
    label_mode = "global"
    filename = "two-motifs.h5"
    motifs = (Motif("AP-1", "TGASTCA", {"dev": 1.0}, rate=1.0), Motif("Dref", "TATCGATA", {"hk": 1.0}, rate=1.0))
    synth_baseline = {"dev": 0.0, "hk": 0.0}
    synth_noise = 0.3
    #: a small CNN that d3 oracle train fits in seconds (guided-design tests and benchmarks)
    oracle = "d3core.testing.network:SmallOracle"


class ThreeCellDataset(SequenceDataset):
    """120 bp, three cell types (lentiMPRA's ``HepG2``, ``K562``, ``WTC11``), planted motifs as in the mpra plugin's
    generator: one motif of its own per cell type and two generic activators that raise all three. The true activity
    of a sequence in a cell type is ``sum_m effect[m][cell] x count_m`` (:func:`true_activity`), so cell-type
    specificity (MinGap) of designs can be measured without an oracle. Not registered by default."""

    name = "three-cells"
    description = "120 bp, HepG2/K562/WTC11, a motif per cell type and generic activators (specificity tests)"
    length = 120
    label_names = ("HepG2", "K562", "WTC11")
    label_mode = "global"
    filename = "three-cells.h5"
    motifs = (Motif("CEBP", "TTGCGCAA", {"HepG2": 1.0}, rate=0.6, note="HepG2's own"),
              Motif("GATA1", "AGATAAGA", {"K562": 1.0}, rate=0.6, note="K562's own"),
              Motif("OCT", "ATGCAAAT", {"WTC11": 1.0}, rate=0.6, note="WTC11's own"),
              Motif("SP1", "GGGGCGGGG", {"HepG2": 0.8, "K562": 0.8, "WTC11": 0.8}, rate=0.6, note="generic"),
              Motif("NRF1", "GCGCATGCGC", {"HepG2": 0.6, "K562": 0.6, "WTC11": 0.6}, rate=0.5, note="generic"))
    synth_baseline = {"HepG2": 0.0, "K562": 0.0, "WTC11": 0.0}
    synth_noise = 0.3
    #: the lentiMPRA library's adapters, so that constructs (d3 design --constructs) can be tested
    construct_flanks = ("AGGACCGGATCAACT", "CATTGCGTGAACCGA")
    #: a small CNN that d3 oracle train fits in seconds
    oracle = "d3core.testing.network:SmallOracle"


def true_activity(tokens, dataset=ThreeCellDataset):
    """``float64 [N, C]``: the planted rule's activity of sequences ``tokens [N, L]`` in each of the dataset's
    labels (motif counts on both strands x effects; no noise)."""
    import numpy as np

    from d3core.evaluation.metrics import motif_counts

    counts = np.stack([motif_counts(tokens, m.consensus) for m in dataset.motifs], axis=1).astype(np.float64)
    effects = np.array([[m.effects.get(c, 0.0) for c in dataset.label_names] for m in dataset.motifs])
    return counts @ effects


class TinyArchitecture(Architecture):
    """A small convolutional score network (:class:`d3core.testing.network.SmallConvNet`), a few thousand weights.

    Keys: ``hidden_size`` (channels), ``n_blocks`` (residual conv blocks), ``kernel_size``, ``num_labels``,
    ``label_mode``, ``tokens``; ``null_condition`` (label dropout) adds a learned null label embedding.
    """

    name = "tiny-arch"
    description = "tests only: a small convolutional score network"
    label_modes = ("global", "per_position", "none")
    null_condition = True
    defaults = {"tokens": 4, "num_labels": 0, "label_mode": "global", "hidden_size": 32, "n_blocks": 2,
                "kernel_size": 5}
    presets = {"tiny": {"hidden_size": 16, "n_blocks": 2}, "paper": {"hidden_size": 32, "n_blocks": 2}}

    @classmethod
    def create(cls, config: dict[str, Any]):
        from d3core.testing.network import SmallConvNet

        if cls.positive_int(config, "kernel_size") % 2 == 0:
            raise D3UserError(f"model.kernel_size={config['kernel_size']} is invalid for architecture {cls.name}: "
                              "expected an odd integer (same-length padding)")
        return SmallConvNet(tokens=cls.positive_int(config, "tokens", minimum=2),
                            hidden=cls.positive_int(config, "hidden_size"),
                            n_blocks=cls.positive_int(config, "n_blocks"),
                            kernel_size=cls.positive_int(config, "kernel_size"),
                            num_labels=cls.positive_int(config, "num_labels", minimum=0),
                            label_mode=cls.choice(config, "label_mode", cls.label_modes),
                            null_condition=bool(config.get("null_condition", False)))
