"""lentiMPRA dataset plugin for d3 (human regulatory elements, 200 bp, three cell types).

This module holds only light hook implementations (no torch import at module level); the dataset class lives in
:mod:`d3_mpra.dataset` and is imported when the dataset is used.
"""
from d3core.api import hookimpl


@hookimpl
def register_datasets(register):
    register("mpra", "d3_mpra.dataset:MPRA",
             description="human lentiMPRA elements, 200 bp, HepG2/K562/WTC11 (Agarwal et al. 2023)",
             length=200, label_names=["HepG2", "K562", "WTC11"], label_mode="global",
             keys="x_{split} [N,200,4] channels-last, y_{split} [N,3]", file="mpra_data.h5")
