"""Transformer (DDiT) score-model architecture 'Tran' for d3.

This module holds only light hook implementations (no torch import at module level); the network lives in
:mod:`d3_arch_tran.network` and the factory in :mod:`d3_arch_tran.model`, imported when the architecture is used.
"""
from d3core.api import hookimpl

PRESETS = ["tiny", "paper"]
LABEL_MODES = ["global", "per_position", "none"]


@hookimpl
def register_architectures(register):
    register(
        "Tran",
        "d3_arch_tran.model:TranArchitecture",
        aliases=("transformer",),
        description="DDiT transformer of D3 (adaLN, rotary attention via SDPA), labels added to the token embedding",
        presets=PRESETS,
        label_modes=LABEL_MODES,
        null_condition=True,
    )
