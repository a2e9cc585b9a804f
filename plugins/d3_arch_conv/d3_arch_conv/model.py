"""The ``Conv`` architecture factory: presets and config keys -> :class:`d3_arch_conv.network.ConvNet`.

Config keys (``model.*``): ``channels`` (default 256), ``n_layers`` (default 20) residual layers whose dilations
cycle through ``dilations`` (default ``[1, 1, 4, 16, 64]``), ``cond_dim`` (the noise-embedding width; 256 in the
published runs), ``num_labels`` C, ``label_mode`` (``global``: the label MLP ``C -> L`` adds one channel, needs
``length``; ``per_position``: the raw ``[B, L, C]`` labels are C channels; ``none``: unconditional, needs ``num_labels`` 0),
``length`` L, ``tokens`` V (default 4), ``zero_self_logit`` (default false, as the original); ``null_condition``
(set by d3 when the run trains with label dropout) adds the learned null condition; ``label_nulls`` (set by d3 when
the data has missing labels; global label mode) adds a learned null track per label.
The transformer keys (``hidden_size``, ``n_blocks``, ``n_heads``, ``dropout``) are ignored.
"""
from __future__ import annotations

from typing import Any

from d3core.api import Architecture, D3UserError

from d3_arch_conv import LABEL_MODES


class ConvArchitecture(Architecture):
    """Dilated residual CNN of D3 (spec §4.2). ``paper`` = the published D3-Conv (13.40 M parameters, DeepSTARR)."""

    name = "Conv"
    description = "D3's dilated residual CNN"
    auto_precision = "32-true"  # the original trains it without autocast (spec §4.2 step 6); --precision changes it
    label_modes = tuple(LABEL_MODES)
    null_condition = True
    label_nulls = True
    defaults = {
        "tokens": 4,
        "num_labels": 0,
        "label_mode": "global",
        "channels": 256,
        "n_layers": 20,
        "dilations": [1, 1, 4, 16, 64],
        "cond_dim": 256,
        "zero_self_logit": False,
    }
    presets = {
        "tiny": {"channels": 32, "n_layers": 5, "cond_dim": 32},
        "paper": {"channels": 256, "n_layers": 20, "cond_dim": 256},
    }

    @classmethod
    def create(cls, config: dict[str, Any]):
        from d3_arch_conv.network import ConvNet

        num_labels = cls.positive_int(config, "num_labels", minimum=0)
        label_mode = cls.choice(config, "label_mode", ("global", "per_position", "none"))
        if label_mode == "none" and num_labels:
            raise D3UserError(
                f"model.label_mode='none' contradicts model.num_labels={num_labels} for architecture Conv; "
                "set model.num_labels=0 or model.label_mode to 'global' or 'per_position'"
            )
        length = config.get("length")
        if num_labels and label_mode == "global":
            length = cls.positive_int(config, "length")
        cycle = config.get("dilations")
        if not isinstance(cycle, list) or not cycle or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in cycle
        ):
            raise D3UserError(
                f"model.dilations={cycle!r} is invalid for architecture Conv: expected a list of integers >= 1, "
                "e.g. [1, 1, 4, 16, 64]"
            )
        n_layers = cls.positive_int(config, "n_layers")
        return ConvNet(
            channels=cls.positive_int(config, "channels"),
            dilations=tuple(cycle[i % len(cycle)] for i in range(n_layers)),
            cond_dim=cls.positive_int(config, "cond_dim"),
            num_labels=num_labels,
            label_mode=label_mode,
            length=length,
            tokens=cls.positive_int(config, "tokens", minimum=2),
            zero_self_logit=cls.flag(config, "zero_self_logit"),
            null_condition=bool(config.get("null_condition", False)),
            label_nulls=bool(config.get("label_nulls", False)),
        )
