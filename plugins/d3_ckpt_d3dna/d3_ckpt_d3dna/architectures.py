"""The architectures ``d3dna-Tran`` and ``d3dna-Conv``: d3-dna's networks under d3's architecture contract.

Config keys (``model.*``), with d3-dna's own names in brackets:

- ``d3dna-Tran``: ``hidden_size``, ``n_blocks``, ``n_heads``, ``cond_dim``, ``dropout``, ``num_labels``
  [``dataset.signal_dim``], ``num_classes`` [``dataset.num_classes``, the rows of the unused label table],
  ``class_dropout_prob`` [``model.class_dropout_prob``: one more row when > 0], ``tokens``;
- ``d3dna-Conv``: ``channels`` [``model.conv_channels``], ``cond_dim``, ``num_labels`` (0 or 1: the network has one
  label channel), ``num_classes``, ``tokens``.

``length`` is accepted and unused by both (rotary embeddings and convolutions work at any length). Presets: ``tiny``
(the sizes of the test fixtures) and ``paper`` (d3-dna's example configs).
"""
from __future__ import annotations

from typing import Any

from d3core.api import Architecture, D3UserError


class D3dnaTran(Architecture):
    """d3-dna's DDiT transformer (:mod:`d3_ckpt_d3dna.network_tran`)."""

    name = "d3dna-Tran"
    description = "d3-dna 0.1.3's transformer (label embedding added at every position, unused label table)"
    label_modes = ("global", "per_position", "none")
    defaults = {"tokens": 4, "num_labels": 0, "num_classes": 4, "class_dropout_prob": 0.1, "dropout": 0.1}
    required = ("hidden_size", "n_blocks", "n_heads", "cond_dim")
    presets = {
        "tiny": {"hidden_size": 48, "n_blocks": 2, "n_heads": 4, "cond_dim": 32},
        "paper": {"hidden_size": 768, "n_blocks": 12, "n_heads": 12, "cond_dim": 128},
    }

    @classmethod
    def create(cls, config: dict[str, Any]):
        from d3_ckpt_d3dna.network_tran import D3dnaTransformer

        hidden, heads = cls.positive_int(config, "hidden_size"), cls.positive_int(config, "n_heads")
        if hidden % heads or (hidden // heads) % 2:
            raise D3UserError(f"model.hidden_size={hidden} and model.n_heads={heads} do not fit architecture "
                              "d3dna-Tran: hidden_size / n_heads must be an even integer")
        return D3dnaTransformer(
            hidden_size=hidden, n_blocks=cls.positive_int(config, "n_blocks"), n_heads=heads,
            cond_dim=cls.positive_int(config, "cond_dim"),
            num_labels=cls.positive_int(config, "num_labels", minimum=0),
            tokens=cls.positive_int(config, "tokens", minimum=2),
            num_classes=cls.positive_int(config, "num_classes", minimum=0),
            class_dropout_prob=cls.probability(config, "class_dropout_prob"),
            dropout=cls.probability(config, "dropout"))


class D3dnaConv(Architecture):
    """d3-dna's dilated convolutional network (:mod:`d3_ckpt_d3dna.network_conv`)."""

    name = "d3dna-Conv"
    description = "d3-dna 0.1.3's CNN (label as a fifth input channel, current token not zeroed)"
    label_modes = ("global", "per_position", "none")
    auto_precision = "32-true"
    defaults = {"tokens": 4, "num_labels": 0, "num_classes": 4}
    required = ("channels", "cond_dim")
    presets = {"tiny": {"channels": 16, "cond_dim": 32}, "paper": {"channels": 256, "cond_dim": 128}}

    @classmethod
    def create(cls, config: dict[str, Any]):
        from d3_ckpt_d3dna.network_conv import D3dnaConvNet

        labels = cls.positive_int(config, "num_labels", minimum=0)
        if labels > 1:
            raise D3UserError(f"model.num_labels={labels} does not fit architecture d3dna-Conv: d3-dna's "
                              "convolutional network has one label channel (num_labels 0 or 1)")
        tokens = cls.positive_int(config, "tokens", minimum=2)
        classes = cls.positive_int(config, "num_classes", minimum=2)
        if classes != tokens:
            raise D3UserError(f"model.num_classes={classes} and model.tokens={tokens} differ: d3dna-Conv one-hot "
                              "encodes num_classes letters into tokens + 1 channels (only the uniform graph works)")
        return D3dnaConvNet(channels=cls.positive_int(config, "channels"),
                            cond_dim=cls.positive_int(config, "cond_dim"), tokens=tokens, num_classes=classes)
