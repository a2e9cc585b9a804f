"""The lentiMPRA oracle CNN of D3 (``PL_mpra``; spec §8.2): architecture facts only.

Training, checkpoints and prediction are generic (:mod:`d3core.evaluation.oracle`); this module only builds the
network. Input one-hot ``[B, 4, L]`` float (L = 200); output ``[B, C]`` (C = 3 cell types here; the original code
trained a 1-output variant on column 2 and a 3-task variant).

Conv(4->196, k15)+BN+ELU+Dropout .1 -> residual(196, k3, dilations 1,2,4,8) -> MaxPool 4 -> Dropout .2 (L 50) ->
Conv(196->256, k5)+BN+ReLU+Dropout .1 -> residual(256, dilations 1,2,4) -> MaxPool 4 -> Dropout .2 (L 12) ->
Conv(256->256, k3)+BN+ReLU+Dropout .1 -> residual(256, dilation 1) -> MaxPool 2 -> Dropout .2 (L 6) -> flatten 1536 ->
Linear(512)+BN+ReLU+Dropout .5 -> Linear(256)+BN+ReLU+Dropout .5 -> Linear(C). A residual block is Conv(k, bias)+BN,
then per dilation [ReLU, Dropout .1, dilated Conv (no bias), BN], plus the input, then ReLU.
"""
from __future__ import annotations

import torch
from torch import nn


class DilatedResidual(nn.Module):
    """``relu(x + body(x))`` with body = Conv(k, bias) + BN, then [ReLU, Dropout, dilated Conv (no bias), BN] per
    dilation."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...], dropout: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(channels, channels, kernel, padding="same"), nn.BatchNorm1d(channels)]
        for d in dilations:
            layers += [nn.ReLU(), nn.Dropout(dropout),
                       nn.Conv1d(channels, channels, kernel, padding="same", dilation=d, bias=False),
                       nn.BatchNorm1d(channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class MPRAOracle(nn.Module):
    """Dilated residual CNN: ``forward(x [B, 4, L] float one-hot) -> [B, num_outputs]``."""

    def __init__(self, num_outputs: int = 3, length: int = 200):
        super().__init__()
        self.num_outputs, self.length = int(num_outputs), int(length)
        self.conv1 = nn.Sequential(nn.Conv1d(4, 196, 15, padding="same"), nn.BatchNorm1d(196), nn.ELU(),
                                   nn.Dropout(0.1))
        self.res1 = DilatedResidual(196, 3, (1, 2, 4, 8))
        self.pool1 = nn.Sequential(nn.MaxPool1d(4), nn.Dropout(0.2))
        self.conv2 = nn.Sequential(nn.Conv1d(196, 256, 5, padding="same"), nn.BatchNorm1d(256), nn.ReLU(),
                                   nn.Dropout(0.1))
        self.res2 = DilatedResidual(256, 3, (1, 2, 4))
        self.pool2 = nn.Sequential(nn.MaxPool1d(4), nn.Dropout(0.2))
        self.conv3 = nn.Sequential(nn.Conv1d(256, 256, 3, padding="same"), nn.BatchNorm1d(256), nn.ReLU(),
                                   nn.Dropout(0.1))
        self.res3 = DilatedResidual(256, 3, (1,))
        self.pool3 = nn.Sequential(nn.MaxPool1d(2), nn.Dropout(0.2))
        width = self.length // 4 // 4 // 2
        if width < 1:
            raise ValueError(f"sequence length {length} is too short for the pooling stages (needs >= 32)")
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(256 * width, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(256, self.num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.res1(self.conv1(x)))
        x = self.pool2(self.res2(self.conv2(x)))
        x = self.pool3(self.res3(self.conv3(x)))
        return self.head(x)
