"""The ``Tran`` architecture factory: presets and config keys -> :class:`d3_arch_tran.network.DDiT`.

Config keys (``model.*``): ``hidden_size`` H, ``n_blocks``, ``n_heads`` (H divisible by it, head dim even),
``cond_dim``, ``dropout`` (residual dropout, off in eval mode), ``num_labels`` C (0 = unconditional), ``tokens`` V
(default 4), ``mlp_ratio`` (default 4). ``length`` is accepted and unused (rotary embeddings work at any length).
``null_condition`` (set by d3 when the run trains with label dropout) adds the learned null label embedding;
``label_nulls`` (set by d3 when the data has missing labels) adds a learned null per label (global labels).
"""
from __future__ import annotations

from typing import Any

from d3core.api import Architecture, D3UserError

from d3_arch_tran import LABEL_MODES


class TranArchitecture(Architecture):
    """DDiT transformer of D3 (spec §4.1). ``paper`` = the published 92.39 M-parameter model (DeepSTARR)."""

    name = "Tran"
    description = "DDiT transformer of D3 (adaLN, rotary attention via SDPA)"
    label_modes = tuple(LABEL_MODES)
    null_condition = True
    label_nulls = True
    defaults = {"tokens": 4, "num_labels": 0, "mlp_ratio": 4, "dropout": 0.1}
    required = ("hidden_size", "n_blocks", "n_heads", "cond_dim")
    presets = {
        # the shape of the legacy fixture deepstarr_tran_tiny: fast on CPU
        "tiny": {"hidden_size": 64, "n_blocks": 2, "n_heads": 4, "cond_dim": 32, "dropout": 0.1},
        # the published D3-Tran (spec §4.4)
        "paper": {"hidden_size": 768, "n_blocks": 12, "n_heads": 12, "cond_dim": 128, "dropout": 0.1},
    }

    @classmethod
    def create(cls, config: dict[str, Any]):
        from d3_arch_tran.network import DDiT

        hidden = cls.positive_int(config, "hidden_size")
        heads = cls.positive_int(config, "n_heads")
        if hidden % heads or (hidden // heads) % 2:
            raise D3UserError(
                f"model.hidden_size={hidden} and model.n_heads={heads} do not fit architecture Tran: the head size "
                "hidden_size / n_heads must be an even integer (e.g. hidden_size=768, n_heads=12)"
            )
        return DDiT(
            hidden_size=hidden,
            n_blocks=cls.positive_int(config, "n_blocks"),
            n_heads=heads,
            cond_dim=cls.positive_int(config, "cond_dim"),
            num_labels=cls.positive_int(config, "num_labels", minimum=0),
            tokens=cls.positive_int(config, "tokens", minimum=2),
            dropout=cls.probability(config, "dropout"),
            mlp_ratio=cls.positive_int(config, "mlp_ratio"),
            null_condition=bool(config.get("null_condition", False)),
            label_nulls=bool(config.get("label_nulls", False)),
        )
