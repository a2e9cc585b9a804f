"""LegNet, the lentiMPRA activity oracle of d3-dna (``Oracle_MPRA_HepG2.ckpt``, ``Oracle_MPRA_K562.ckpt``).

LegNet (Penzar et al. 2023) as the D3 authors configure it for 230 bp lentiMPRA elements: stem 64 channels (k 11),
four stages of 80, 96, 112, 128 channels (k 9, each halving the length), an inverted-residual block with
squeeze-excitation per stage (inner width 4x, concatenated with its input), a 1x1 mapper to 256 channels, global
average pooling and a head ``Linear(256, 256) -> BatchNorm -> SiLU -> Linear(256, C)``. Every convolution is
'same'-padded, so any length works. Parameter names are those of d3-dna's checkpoints (``model.`` stripped), so a
file maps onto it by name (:mod:`d3core.evaluation.original_oracles` reads ``output_layer`` and
``original_prefix``). Input one-hot ``[B, 4, L]`` float; ``forward -> [B, C]``; ``embed -> [B, 256]`` (the input of
the last linear layer).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STEM_CHANNELS, STEM_KERNEL, KERNEL = 64, 11, 9
STAGE_CHANNELS = (80, 96, 112, 128)
RESIZE = 4


def conv_bn_silu(cin: int, cout: int, kernel: int, groups: int = 1) -> list[nn.Module]:
    """``Conv1d('same', no bias) -> BatchNorm1d -> SiLU`` as a flat list (d3-dna's ``nn.Sequential`` indices)."""
    return [nn.Conv1d(cin, cout, kernel, padding="same", groups=groups, bias=False), nn.BatchNorm1d(cout), nn.SiLU()]


class LocalBlock(nn.Module):
    """``block = Sequential(conv, bn, silu)``."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.block = nn.Sequential(*conv_bn_silu(cin, cout, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class SqueezeExcite(nn.Module):
    """``x * sigmoid(fc(mean over positions))``; ``fc = Sequential(Linear(c, c/r), SiLU, Linear(c/r, c), Sigmoid)``."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction), nn.SiLU(),
                                nn.Linear(channels // reduction, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=2))[:, :, None]


class EffBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise k, squeeze-excite, 1x1 project back (indices 0..9 of ``block``)."""

    def __init__(self, channels: int, kernel: int, resize: int):
        super().__init__()
        inner = channels * resize
        self.block = nn.Sequential(*conv_bn_silu(channels, inner, 1), *conv_bn_silu(inner, inner, kernel, groups=inner),
                                   SqueezeExcite(inner, resize), *conv_bn_silu(inner, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ResidualConcat(nn.Module):
    """``cat([fn(x), x], channels)``."""

    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.fn(x), x], dim=1)


class Mapper(nn.Module):
    """``block = Sequential(BatchNorm1d(c), Conv1d(c, 2c, 1))``."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.block = nn.Sequential(nn.BatchNorm1d(cin), nn.Conv1d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class LegNetOracle(nn.Module):
    """LegNet: ``forward(x [B, 4, L] one-hot) -> [B, num_outputs]``; ``embed(x) -> [B, 256]``."""

    #: how d3 maps a Lightning checkpoint onto this network: strip ``model.``; the rows of ``head.3`` are the outputs
    original_prefix = "model."
    output_layer = "head.3"

    def __init__(self, num_outputs: int = 1, length: int = 230):
        super().__init__()
        self.num_outputs, self.length = int(num_outputs), int(length)
        self.stem = LocalBlock(4, STEM_CHANNELS, STEM_KERNEL)
        stages, cin = [], STEM_CHANNELS
        for cout in STAGE_CHANNELS:
            stages.append(nn.Sequential(ResidualConcat(EffBlock(cin, KERNEL, RESIZE)),
                                        LocalBlock(2 * cin, cout, KERNEL), nn.MaxPool1d(2)))
            cin = cout
        self.main = nn.Sequential(*stages)
        self.mapper = Mapper(cin, 2 * cin)
        self.head = nn.Sequential(nn.Linear(2 * cin, 2 * cin), nn.BatchNorm1d(2 * cin), nn.SiLU(),
                                  nn.Linear(2 * cin, self.num_outputs))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The input of the last linear layer ``head.3``: ``[B, 256]``."""
        x = self.mapper(self.main(self.stem(x)))
        return self.head[:3](F.adaptive_avg_pool1d(x, 1).squeeze(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head[3](self.embed(x))
