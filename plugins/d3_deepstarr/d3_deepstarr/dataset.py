"""DeepSTARR: Drosophila S2 enhancers (de Almeida et al. 2022), 249 bp, two activities (dev, hk).

Layout facts only; reading, validation, import, synthesis and fetching come from :class:`d3core.data.SequenceDataset`.

File (``DeepSTARR_data.h5``, the layout of the original D3 code): ``X_{train,valid,test}`` one-hot ``[N, 4, 249]``
channels-first (0=A, 1=C, 2=G, 3=T), ``Y_{train,valid,test}`` ``[N, 2]`` = developmental (``dev``) and housekeeping
(``hk``) log2 STARR-seq enrichment. Standard split: 402,296 / 40,570 / 41,186 rows.

Import: the Stark lab files ``Sequences_{Train,Val,Test}.fa`` + ``Sequences_activity_{Train,Val,Test}.txt``
(columns ``Dev_log2_enrichment``, ``Hk_log2_enrichment``), or tables with ``actual_dev``/``actual_hk`` columns.

Synthesis motifs (de Almeida et al. 2022 report GATA, AP-1, twist and Trl/GAGA motifs as drivers of developmental
activity, and Dref (DRE), Ohler1, Ohler6 and ETS motifs of housekeeping activity; consensus sequences from the
literature named in each ``note``). Activity per planted instance (log2 units)::

    motif   consensus      dev   hk
    GATA    WGATAR         0.8   0.0
    AP-1    TGASTCA        1.0   0.0
    twist   CATATG         0.7   0.0
    Trl     GAGAGAG        0.5   0.1
    Dref    TATCGATA       0.0   1.0
    Ohler1  YGGTCACACTR    0.0   0.8
    Ohler6  KTYRGTATWTTT   0.0   0.6
    ETS     ACCGGAAGT      0.1   0.7

    y_dev = sum(dev effects * counts) + 0.3 * N(0, 1);  y_hk = sum(hk effects * counts) + 0.3 * N(0, 1)
"""
from d3core.api import Motif, SequenceDataset


class DeepSTARR(SequenceDataset):
    """DeepSTARR enhancers: L = 249, labels ``dev``, ``hk``, keys ``X_*``/``Y_*``, channels-first."""

    name = "deepstarr"
    description = "Drosophila S2 enhancers, 249 bp, dev/hk (de Almeida et al. 2022)"
    length = 249
    label_names = ("dev", "hk")
    label_mode = "global"
    #: the oracle network (spec §8.2) that d3 oracle train fits and d3 evaluate scores samples with; declaring it
    #: registers the trained oracle under the dataset's name (--oracle NAME)
    oracle = "d3_deepstarr.oracle:DeepSTARROracle"
    #: motif scans in d3 evaluate use this JASPAR taxonomic group
    jaspar_tax_group = "insects"
    x_key = "X_{split}"
    y_key = "Y_{split}"
    channels_first = True
    filename = "DeepSTARR_data.h5"
    url = "https://zenodo.org/records/7265991/files/DeepSTARR_data.h5?download=1"
    sha256 = None  # not published; recorded beside the file at the first download (pin with --sha256)
    column_aliases = {
        "dev": ("Dev_log2_enrichment", "Dev_log2", "actual_dev", "dev_activity"),
        "hk": ("Hk_log2_enrichment", "Hk_log2", "actual_hk", "hk_activity"),
    }
    adapters = (0, 0)
    gc_content = 0.42
    synth_baseline = {"dev": 0.0, "hk": 0.0}
    synth_noise = 0.3
    motifs = (
        Motif("GATA", "WGATAR", {"dev": 0.8}, rate=0.6, note="GATA factors (pannier, serpent); WGATAR"),
        Motif("AP-1", "TGASTCA", {"dev": 1.0}, rate=0.5, note="AP-1 (Jra/kay); TRE TGA(C/G)TCA"),
        Motif("twist", "CATATG", {"dev": 0.7}, rate=0.5, note="twist E-box CATATG"),
        Motif("Trl", "GAGAGAG", {"dev": 0.5, "hk": 0.1}, rate=0.5, note="Trithorax-like / GAGA factor"),
        Motif("Dref", "TATCGATA", {"hk": 1.0}, rate=0.5, note="DRE, bound by Dref (Hirose et al. 1993)"),
        Motif("Ohler1", "YGGTCACACTR", {"hk": 0.8}, rate=0.4, note="Ohler et al. 2002 core-promoter motif 1"),
        Motif("Ohler6", "KTYRGTATWTTT", {"hk": 0.6}, rate=0.4, note="Ohler et al. 2002 core-promoter motif 6"),
        Motif("ETS", "ACCGGAAGT", {"dev": 0.1, "hk": 0.7}, rate=0.4, note="ETS family GGAA core"),
    )
