"""The DeepSTARR oracle CNN (de Almeida et al. 2022; spec §8.2): architecture facts only.

Training, checkpoints and prediction are generic (:mod:`d3core.evaluation.oracle`); this module only builds the
network. Input one-hot ``[B, 4, L]`` float (L = 249); output ``[B, C]`` activities (C = 2: dev, hk).

Four conv stages, each a bias-free 'same' convolution (raw weight parameters ``conv{1..4}_filters``, Kaiming-normal
init) -> BatchNorm -> ReLU -> MaxPool(2): 4->256 (k7), 256->60 (k3), 60->60 (k5), 60->120 (k3); L 249 -> 124 -> 62 ->
31 -> 15. Flatten (120 x 15 = 1800) -> Linear(256) -> BN -> ReLU -> Dropout(0.4) -> Linear(256) -> BN -> ReLU ->
Dropout(0.4) (the penultimate embedding, 256) -> Linear(C). The flattened width follows from L, so other lengths work
too.

The parameter names are those of the original code's ``PL_DeepSTARR.model`` (``DeepSTARR`` in ``PL_DeepSTARR.py``),
so the original Lightning checkpoints load into this network after their ``model.`` prefix is dropped.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: (in channels, out channels, kernel) of the four conv stages
CONV_STAGES = ((4, 256, 7), (256, 60, 3), (60, 60, 5), (60, 120, 3))
POOLING = 2 ** len(CONV_STAGES)


class DeepSTARROracle(nn.Module):
    """DeepSTARR CNN: ``forward(x [B, 4, L] float one-hot) -> [B, num_outputs]``; ``embed(x) -> [B, 256]``."""

    #: the original code's checkpoints (``oracle_DeepSTARR_DeepSTARR_data.ckpt``) hold this network under ``model.``;
    #: the shapes that give its outputs (rows of ``fc7``) and length (``fc5`` reads 120 channels x L // 16 positions)
    original_prefix = "model."
    output_layer = "fc7"
    flatten_layer, flatten_channels, length_divisor = "fc5", CONV_STAGES[-1][1], POOLING

    def __init__(self, num_outputs: int = 2, length: int = 249, hidden: int = 256, dropout: float = 0.4):
        super().__init__()
        self.num_outputs, self.length = int(num_outputs), int(length)
        width = self.length
        for index, (cin, cout, k) in enumerate(CONV_STAGES, start=1):
            weight = nn.Parameter(torch.empty(cout, cin, k))
            nn.init.kaiming_normal_(weight)
            setattr(self, f"conv{index}_filters", weight)
            setattr(self, f"batchnorm{index}", nn.BatchNorm1d(cout))
            width //= 2
        if width < 1:
            raise ValueError(f"sequence length {length} is too short for four pooling stages (needs >= 16)")
        self.fc5 = nn.Linear(CONV_STAGES[-1][1] * width, hidden)
        self.batchnorm5 = nn.BatchNorm1d(hidden)
        self.fc6 = nn.Linear(hidden, hidden)
        self.batchnorm6 = nn.BatchNorm1d(hidden)
        self.fc7 = nn.Linear(hidden, self.num_outputs)
        self.dropout = nn.Dropout(dropout)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate embedding ``[B, 256]``: the input of the output layer ``fc7``."""
        for index in range(1, len(CONV_STAGES) + 1):
            weight = getattr(self, f"conv{index}_filters")
            x = F.conv1d(x, weight, padding="same")
            x = F.max_pool1d(F.relu(getattr(self, f"batchnorm{index}")(x)), 2)
        x = x.flatten(1)
        x = self.dropout(F.relu(self.batchnorm5(self.fc5(x))))
        return self.dropout(F.relu(self.batchnorm6(self.fc6(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc7(self.embed(x))
