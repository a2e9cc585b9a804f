"""``D3DataModule``: train/valid loaders over a dataset plugin's lazily read HDF5 splits.

The training order is a function of (seed, data epoch) only, split over ranks like ``DistributedSampler``; a resumed
run starts at the batch the uninterrupted run would have seen next.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler


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


class D3DataModule(pl.LightningDataModule):
    """Loaders for one dataset plugin.

    Args:
        dataset: the dataset plugin object (``open_split(path, split)`` -> a torch ``Dataset`` of
            ``(tokens [L] long, labels [C] float)``).
        path: the data file.
        batch_size: global training batch (divided by world size x accumulation, checked by the runner).
        per_device_batch: the per-process training batch.
        eval_batch: the per-process validation batch.
        seed: run seed (data order).
        num_workers: DataLoader workers (each opens its own HDF5 handle).
    """

    def __init__(self, dataset: Any, path: str, *, per_device_batch: int, eval_batch: int, seed: int,
                 num_workers: int = 0):
        super().__init__()
        self.dataset, self.path = dataset, str(path)
        self.per_device_batch, self.eval_batch = per_device_batch, eval_batch
        self.seed, self.num_workers = seed, num_workers
        self._splits: dict[str, Any] = {}

    def split(self, name: str):
        if name not in self._splits:
            self._splits[name] = self.dataset.open_split(self.path, name)
        return self._splits[name]

    def _rank_and_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _loader(self, split: str, batch_size: int, shuffle: bool, position: int = 0) -> DataLoader:
        data = self.split(split)
        rank, world = self._rank_and_world()
        if batch_size * world > len(data):
            clamped = max(1, len(data) // world)
            warnings.warn(f"{split} split of {self.path} has {len(data)} rows, fewer than the batch "
                          f"{batch_size} x {world} processes; using batches of {clamped}")
            batch_size = clamped
        sampler = EpochSeededBatchSampler(len(data), batch_size, seed=self.seed, shuffle=shuffle, rank=rank,
                                          world_size=world, position=position)
        return DataLoader(data, batch_sampler=sampler, num_workers=self.num_workers,
                          collate_fn=getattr(data, "collate_fn", None), persistent_workers=self.num_workers > 0,
                          pin_memory=False)

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        consumed = trainer.global_step * trainer.accumulate_grad_batches if trainer is not None else 0
        return self._loader("train", self.per_device_batch, shuffle=True, position=consumed)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", self.eval_batch, shuffle=False)
