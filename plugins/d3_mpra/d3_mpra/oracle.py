"""The lentiMPRA oracle CNN of D3 (``PL_mpra``; spec §8.2): architecture facts only.

Training, checkpoints and prediction are generic (:mod:`d3core.evaluation.oracle`); this module only builds the
network. Input one-hot ``[B, 4, L]`` float (L = 200); output ``[B, C]`` (C = 3 cell types here; the original code
trained a 1-output variant on label column 2 and a 3-task variant).

Conv(4->196, k15)+BN+ELU+Dropout .1 -> residual(196, k3, dilations 1,2,4,8) -> MaxPool 4 -> Dropout .2 (L 50) ->
Conv(196->256, k5)+BN+ReLU+Dropout .1 -> residual(256, dilations 1,2,4) -> MaxPool 4 -> Dropout .2 (L 12) ->
Conv(256->256, k3)+BN+ReLU+Dropout .1 -> residual(256, dilation 1) -> MaxPool 2 -> Dropout .2 (L 6) -> flatten 1536 ->
Linear(512)+BN+ReLU+Dropout .5 -> Linear(256)+BN+ReLU+Dropout .5 (the penultimate embedding, 256) -> Linear(C). A
residual block is Conv(k, bias)+BN, then per dilation [ReLU, Dropout .1, dilated Conv (no bias), BN], plus the input,
then ReLU.

The module tree and parameter names are those of the original code's ``PL_mpra.model`` (``mpra`` in ``PL_mpra.py``:
``conv1``, ``res1.0.block``, ..., ``fc4``, ``batchnorm4``, ``fc5``, ``batchnorm5``, ``fc6``), so the original
Lightning checkpoints load into this network after their ``model.`` prefix is dropped.
"""
from __future__ import annotations

import torch
from torch import nn

#: pooling factors of the three stages (200 -> 50 -> 12 -> 6)
POOLS = (4, 4, 2)
#: label column the original 1-output oracle (``PL_mpra``, file suffix ``_2``) was trained on
ORIGINAL_SINGLE_TASK_COLUMN = 2


class DilatedResidual(nn.Module):
    """``relu(x + block(x))`` with block = Conv(k, bias) + BN, then [ReLU, Dropout, dilated Conv (no bias), BN] per
    dilation."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...], dropout: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(channels, channels, kernel, padding="same"), nn.BatchNorm1d(channels)]
        for d in dilations:
            layers += [nn.ReLU(), nn.Dropout(dropout),
                       nn.Conv1d(channels, channels, kernel, padding="same", dilation=d, bias=False),
                       nn.BatchNorm1d(channels)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.block(x))


def _conv(cin: int, cout: int, kernel: int, activation: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, kernel, padding="same"), nn.BatchNorm1d(cout), activation,
                         nn.Dropout(0.1))


def _residual(channels: int, dilations: tuple[int, ...], pool: int) -> nn.Sequential:
    return nn.Sequential(DilatedResidual(channels, 3, dilations), nn.MaxPool1d(pool), nn.Dropout(0.2))


class MPRAOracle(nn.Module):
    """Dilated residual CNN: ``forward(x [B, 4, L] float one-hot) -> [B, num_outputs]``; ``embed(x) -> [B, 256]``."""

    #: the original code's checkpoints (``oracle_mpra_mpra_data.ckpt``) hold this network under ``model.``;
    #: the shapes that give its outputs (rows of ``fc6``) and length (``fc4`` reads 256 channels x L // 32 positions)
    original_prefix = "model."
    output_layer = "fc6"
    flatten_layer, flatten_channels, length_divisor = "fc4", 256, POOLS[0] * POOLS[1] * POOLS[2]

    def __init__(self, num_outputs: int = 3, length: int = 200):
        super().__init__()
        self.num_outputs, self.length = int(num_outputs), int(length)
        self.conv1 = _conv(4, 196, 15, nn.ELU())
        self.res1 = _residual(196, (1, 2, 4, 8), POOLS[0])
        self.conv2 = _conv(196, 256, 5, nn.ReLU())
        self.res2 = _residual(256, (1, 2, 4), POOLS[1])
        self.conv3 = _conv(256, 256, 3, nn.ReLU())
        self.res3 = _residual(256, (1,), POOLS[2])
        width = self.length // POOLS[0] // POOLS[1] // POOLS[2]
        if width < 1:
            raise ValueError(f"sequence length {length} is too short for the pooling stages (needs >= 32)")
        self.fc4 = nn.Linear(256 * width, 512)
        self.batchnorm4 = nn.BatchNorm1d(512)
        self.fc5 = nn.Linear(512, 256)
        self.batchnorm5 = nn.BatchNorm1d(256)
        self.fc6 = nn.Linear(256, self.num_outputs)
        self.dropout = nn.Dropout(0.5)

    @staticmethod
    def original_label_columns(num_outputs: int, num_labels: int) -> list[int]:
        """Which label columns of the dataset an original checkpoint's outputs predict: the 1-output ``PL_mpra``
        oracle predicts column 2; a 3-output one predicts all three."""
        if num_outputs == 1 and num_labels > ORIGINAL_SINGLE_TASK_COLUMN:
            return [ORIGINAL_SINGLE_TASK_COLUMN]
        return list(range(num_outputs))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate embedding ``[B, 256]``: the input of the output layer ``fc6``."""
        x = self.res1(self.conv1(x))
        x = self.res2(self.conv2(x))
        x = self.res3(self.conv3(x))
        x = self.dropout(torch.relu(self.batchnorm4(self.fc4(x.flatten(1)))))
        return self.dropout(torch.relu(self.batchnorm5(self.fc5(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc6(self.embed(x))
