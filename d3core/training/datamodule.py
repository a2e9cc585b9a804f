"""``D3DataModule``: train/valid loaders over a dataset plugin's lazily read HDF5 splits.

The training order is a function of (seed, data epoch) only (:class:`~d3core.data.sampler.EpochSeededBatchSampler`),
split over ranks like ``DistributedSampler``; a resumed run starts at the batch the uninterrupted run would have
seen next.
"""
from __future__ import annotations

import warnings
from typing import Any

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from d3core.data.sampler import EpochSeededBatchSampler


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
