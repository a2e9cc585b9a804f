"""lentiMPRA: human regulatory elements (Agarwal et al. 2023), 200 bp, activities in three cell types.

Layout facts only; reading, validation, import, synthesis and fetching come from :class:`d3core.data.SequenceDataset`.

File (``mpra_data.h5`` of the original D3 code): ``x_{train,valid,test}`` one-hot ``[N, 200, 4]`` channels-last
(0=A, 1=C, 2=G, 3=T), ``y_{train,valid,test}`` ``[N, 3]`` float. The three columns are taken to be HepG2, K562 and
WTC11 (the cell lines of the lentiMPRA study; the column order of the D3 file is not documented there). Files written
by d3 carry their own ``label_names``, so an import with one or two cell types is a 1- or 2-label dataset.

Import: lentiMPRA tables with a ``seq`` column of 230 bp (15 bp adapter + 200 bp element + 15 bp adapter; the adapters
are cut) and one or more activity columns, or several one-cell-type tables joined on the sequence (a ``mean_value``
column is the cell type named in the file name, e.g. ``..._HepG2_...tsv``).

Synthesis motifs (liver: HNF1, HNF4, C/EBP; erythroid K562: GATA1, NF-E2/AP-1; iPSC WTC11: OCT4-SOX2; generic
activators in all three: SP1 GC-box, NRF1). Activity per planted instance (log2 units)::

    motif      consensus       HepG2  K562  WTC11
    HNF1       GTTAATNATTAAC   1.0    0.0   0.0
    HNF4       RGKTCAAAGKYCA   0.8    0.0   0.0
    CEBP       TTGCGCAA        0.5    0.1   0.0
    GATA1      WGATAR          0.0    0.9   0.0
    NFE2       TGCTGASTCAY     0.2    0.7   0.1
    OCT4-SOX2  TTTGCATAACAATG  0.0    0.0   1.0
    SP1        GGGGCGGGG       0.3    0.3   0.3
    NRF1       GCGCATGCGC      0.2    0.2   0.3

    y_c = sum_m effect[m][c] * count_m + 0.3 * N(0, 1)
"""
from d3core.api import Motif, SequenceDataset


class MPRA(SequenceDataset):
    """lentiMPRA elements: L = 200, labels ``HepG2``, ``K562``, ``WTC11``, keys ``x_*``/``y_*``, channels-last."""

    name = "mpra"
    description = "human lentiMPRA elements, 200 bp, HepG2/K562/WTC11 (Agarwal et al. 2023)"
    length = 200
    label_names = ("HepG2", "K562", "WTC11")
    label_mode = "global"
    #: the oracle network (spec §8.2) that d3 oracle train fits and d3 evaluate scores samples with; declaring it
    #: registers the trained oracle under the dataset's name (--oracle NAME)
    oracle = "d3_mpra.oracle:MPRAOracle"
    #: motif scans in d3 evaluate use this JASPAR taxonomic group
    jaspar_tax_group = "vertebrates"
    x_key = "x_{split}"
    y_key = "y_{split}"
    channels_first = False
    filename = "mpra_data.h5"
    url = "https://huggingface.co/datasets/anonymous-3E42/MPRA_preprocessed/resolve/main/mpra_data.h5"
    sha256 = None  # not published; recorded beside the file at the first download (pin with --sha256)
    column_aliases = {
        "HepG2": ("hepg2_activity", "HepG2_log2", "HepG2_mean"),
        "K562": ("k562_activity", "K562_log2", "K562_mean"),
        "WTC11": ("wtc11_activity", "WTC11_log2", "WTC11_mean"),
    }
    adapters = (15, 15)
    construct_flanks = ("AGGACCGGATCAACT", "CATTGCGTGAACCGA")  # the lentiMPRA library's 5' and 3' adapters
    gc_content = 0.45
    synth_baseline = {"HepG2": 0.0, "K562": 0.0, "WTC11": 0.0}
    synth_noise = 0.3
    motifs = (
        Motif("HNF1", "GTTAATNATTAAC", {"HepG2": 1.0}, rate=0.4, note="HNF1A/B palindrome"),
        Motif("HNF4", "RGKTCAAAGKYCA", {"HepG2": 0.8}, rate=0.4, note="HNF4A DR1 element"),
        Motif("CEBP", "TTGCGCAA", {"HepG2": 0.5, "K562": 0.1}, rate=0.4, note="C/EBP alpha/beta"),
        Motif("GATA1", "WGATAR", {"K562": 0.9}, rate=0.5, note="GATA1 (erythroid)"),
        Motif("NFE2", "TGCTGASTCAY", {"HepG2": 0.2, "K562": 0.7, "WTC11": 0.1}, rate=0.4,
              note="NF-E2 / MARE, AP-1 core"),
        Motif("OCT4-SOX2", "TTTGCATAACAATG", {"WTC11": 1.0}, rate=0.4, note="POU5F1::SOX2 composite (pluripotency)"),
        Motif("SP1", "GGGGCGGGG", {"HepG2": 0.3, "K562": 0.3, "WTC11": 0.3}, rate=0.5, note="SP/KLF GC-box"),
        Motif("NRF1", "GCGCATGCGC", {"HepG2": 0.2, "K562": 0.2, "WTC11": 0.3}, rate=0.4, note="NRF1 palindrome"),
    )
