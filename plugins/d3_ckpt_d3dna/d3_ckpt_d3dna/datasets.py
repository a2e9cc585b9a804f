"""The lentiMPRA data files of d3-dna (Zenodo record 19774653): ``data_MPRA_HepG2.h5`` and ``data_MPRA_K562.h5``.

Layout facts only (reading, validation, import, synthesis and fetching come from ``d3core.api.SequenceDataset``):
``onehot_{train,valid,test}`` one-hot ``[N, 230, 4]`` float32 channels-last (0=A, 1=C, 2=G, 3=T; the full 230 bp
element, adapters included), ``y_{train,valid,test}`` ``[N, 1]`` float32, the element's activity in one cell line.
The label is ``activity`` in both, as d3-dna names it: the two files (and their LegNet oracles, which are the same
network by content) differ only in the cell line they were measured in, which the dataset name says.

d3-dna's ``data_DeepSTARR.h5`` has the layout of d3's own ``deepstarr`` dataset (``X_*`` ``[N, 4, 249]``
channels-first, ``Y_*`` ``[N, 2]`` dev, hk), so it needs no dataset of its own: ``--dataset deepstarr --data
data_DeepSTARR.h5``.
"""
from d3core.api import SequenceDataset

RECORD_URL = "https://zenodo.org/records/19774653/files/{name}?download=1"


class LentiMPRA230(SequenceDataset):
    """One lentiMPRA cell line in d3-dna's layout: L = 230, one label, keys ``onehot_*``/``y_*``, channels-last."""

    length = 230
    label_names = ("activity",)
    synth_baseline = {"activity": 0.0}
    label_mode = "global"
    x_key = "onehot_{split}"
    y_key = "y_{split}"
    channels_first = False
    #: LegNet, the D3 authors' oracle for these files (``Oracle_MPRA_<cell>.ckpt``)
    oracle = "d3_ckpt_d3dna.legnet:LegNetOracle"
    jaspar_tax_group = "vertebrates"
    gc_content = 0.45


class LentiMPRAHepG2(LentiMPRA230):
    name = "lentimpra-hepg2"
    description = "human lentiMPRA elements in HepG2, 230 bp, one activity (d3-dna's data_MPRA_HepG2.h5)"
    filename = "data_MPRA_HepG2.h5"
    url = RECORD_URL.format(name=filename)


class LentiMPRAK562(LentiMPRA230):
    name = "lentimpra-k562"
    description = "human lentiMPRA elements in K562, 230 bp, one activity (d3-dna's data_MPRA_K562.h5)"
    filename = "data_MPRA_K562.h5"
    url = RECORD_URL.format(name=filename)
