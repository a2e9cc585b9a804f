"""The training order of d3: batches of a permutation seeded with (seed, data epoch), resumable at any batch.

Used by the Lightning data module (:mod:`d3core.training.datamodule`) and by plain PyTorch loops
(``scripts/run_train_unified.py``) alike, so both see the same batches in the same order.
"""
from __future__ import annotations

import math
from typing import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["EpochSeededBatchSampler"]


class EpochSeededBatchSampler(Sampler[list[int]]):
    """Batches of row indices: a permutation seeded with (seed, epoch), strided over ranks; the last batch is kept.

    The sampler counts the batches it has handed out (``position``), so the data epoch and the place inside it
    follow from that count alone, not from Lightning's epoch counter: a run resumed at optimizer step k starts at
    ``position = k x accum`` and sees exactly the batches the uninterrupted run saw.

    Args:
        num_rows: rows of the split.
        batch_size: rows per batch on this rank.
        seed: run seed; ``shuffle=False`` keeps file order and always starts at the first row (validation).
        rank, world_size: this process's share: rows ``perm[rank::world_size]`` (padded by wrapping so every rank
            gets the same number of batches, as ``DistributedSampler`` does).
        position: batches already consumed on this rank (resume).
    """

    def __init__(self, num_rows: int, batch_size: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1, position: int = 0):
        self.num_rows, self.batch_size, self.seed, self.shuffle = num_rows, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.position = position

    def _rows_per_rank(self) -> int:
        return math.ceil(self.num_rows / self.world_size)

    def __len__(self) -> int:
        return math.ceil(self._rows_per_rank() / self.batch_size)

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's row indices for one data epoch."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(self.num_rows, generator=generator)
        else:
            order = torch.arange(self.num_rows)
        total = self._rows_per_rank() * self.world_size
        if total > self.num_rows:  # pad by wrapping around so that ranks stay in step
            order = torch.cat([order, order[: total - self.num_rows]])
        return order[self.rank::self.world_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            self.position = 0
        epoch, first_batch = divmod(self.position, len(self))
        mine = self.epoch_order(epoch)
        for batch in range(first_batch, len(self)):
            self.position += 1
            yield mine[batch * self.batch_size:(batch + 1) * self.batch_size]
