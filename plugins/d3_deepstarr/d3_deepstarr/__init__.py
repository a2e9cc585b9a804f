"""DeepSTARR dataset plugin for d3 (Drosophila S2 enhancers, 249 bp, dev/hk activities).

This module holds only light hook implementations (no torch import at module level); the dataset class lives in
:mod:`d3_deepstarr.dataset` and is imported when the dataset is used.
"""
from d3core.api import hookimpl


@hookimpl
def register_datasets(register):
    register("deepstarr", "d3_deepstarr.dataset:DeepSTARR",
             description="Drosophila S2 enhancers, 249 bp, dev/hk (de Almeida et al. 2022)",
             length=249, label_names=["dev", "hk"], label_mode="global",
             keys="X_{split} [N,4,249] channels-first, Y_{split} [N,2]", file="DeepSTARR_data.h5")
