"""Dilated convolutional score-model architecture 'Conv' for d3.

This module holds only light hook implementations (no torch import at module level); the network lives in
:mod:`d3_arch_conv.network` and the factory in :mod:`d3_arch_conv.model`, imported when the architecture is used.
"""
from d3core.api import hookimpl

PRESETS = ["tiny", "paper"]
LABEL_MODES = ["global", "per_position", "none"]


@hookimpl
def register_architectures(register):
    register(
        "Conv",
        "d3_arch_conv.model:ConvArchitecture",
        aliases=("convolutional",),
        description="D3's dilated residual CNN (one-hot + label track, GroupNorm, per-block noise conditioning)",
        presets=PRESETS,
        label_modes=LABEL_MODES,
        null_condition=True,
    )
