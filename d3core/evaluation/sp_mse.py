"""The ``sp_mse`` training callback: conditional-generation fidelity (SP-MSE, spec §8.3) on a fixed validation
subset, with the EMA weights, every N validation runs.

``d3 train ... --callback sp_mse`` enables it. Settings (read from an ``sp_mse`` config section when the config has
one, else these defaults):

==========================  ==========================================================================================
``sp_mse.oracle``           oracle: a file, a registered or a published name (as ``--oracle``); default
                            ``<data dir>/<data stem>.oracle.ckpt`` (``d3 oracle train``)
``sp_mse.every_n_val``      sample every N validation runs (default 1; sanity checks do not count)
``sp_mse.num_sequences``    size of the fixed subset: evenly spaced rows of the split (default 256)
``sp_mse.split``            ``valid`` (default) or ``test``
``sp_mse.steps``            predictor steps (default ``sampling.steps``; null there: the sequence length L)
``sp_mse.batch_size``       sequences per model call (default 64): sampling is chunked, memory stays bounded
``sp_mse.predictor``        default ``sampling.predictor``
==========================  ==========================================================================================

The final denoising step and the guidance strength follow ``sampling.noise_removal`` and ``sampling.guidance``
(defaults: on, 1), so the callback samples as ``d3 sample`` does with the run's config.

The sequence length comes from the model config (not the step count), the oracle runs on the module's device, the
generator is a copy of the network with the EMA shadows written in (the raw weights are never touched), the draws are
seeded (``seed`` + validation count, so runs compare like with like), and under DDP each rank samples a
contiguous share of the subset and the squared errors are summed over ranks. Logged: ``sp_mse``.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from d3core.config import select_value
from d3core.errors import D3UserError

DEFAULTS = {"oracle": None, "every_n_val": 1, "num_sequences": 256, "split": "valid", "steps": None,
            "batch_size": 64, "predictor": None}


class SPMSECallback(pl.Callback):
    """Logs ``sp_mse`` = mean over the subset and the oracle outputs of (f(x_real) - f(x_generated))^2."""

    def __init__(self, *, dataset, data_path: str | Path, oracle: str | Path | None = None, every_n_val: int = 1,
                 num_sequences: int = 256, split: str = "valid", steps: int | None = None, batch_size: int = 64,
                 predictor: str = "analytic", seed: int = 0, denoise: bool = True, guidance: float = 1.0):
        from d3core.evaluation.oracle import default_oracle_path, find_oracle

        if every_n_val < 1 or num_sequences < 1 or (steps is not None and steps < 1) or batch_size < 1:
            raise D3UserError("sp_mse: every_n_val, num_sequences, steps and batch_size must be at least 1")
        # resolved as --oracle is, and checked now, before training starts
        self.oracle = find_oracle(dataset, data_path, oracle, what="sp_mse.oracle")
        if self.oracle is None:
            raise D3UserError(f"--callback sp_mse needs an oracle: {default_oracle_path(data_path)} does not exist. "
                              f"Train one with 'd3 oracle train --dataset {dataset.name} --data {data_path}' (or set "
                              "sp_mse.oracle=PATH|NAME)")
        split_data = dataset.open_split(data_path, split)
        n = min(int(num_sequences), len(split_data))
        self.rows = np.unique(np.linspace(0, len(split_data) - 1, n).round().astype(np.int64))
        tokens, labels = split_data.read_batch(self.rows)
        if tokens.shape[1] != self.oracle.length:
            raise D3UserError(f"sp_mse.oracle {self.oracle.path}: scores {self.oracle.length} bp, the data is "
                              f"{tokens.shape[1]} bp")
        self.labels = labels.numpy()
        self.reference = self.oracle.predict(tokens.numpy())
        self.every_n_val, self.batch_size = int(every_n_val), int(batch_size)
        self.steps = None if steps is None else int(steps)
        self.predictor, self.seed, self.denoise, self.guidance = str(predictor), int(seed), bool(denoise), float(guidance)
        self.validations = 0
        self.last_value: float | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.validations += 1
        if self.validations % self.every_n_val:
            return
        value = self.compute(trainer, pl_module)
        self.last_value = value
        pl_module.log("sp_mse", value, prog_bar=True, sync_dist=False, rank_zero_only=False)

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> float:
        import torch

        from d3core.generation.sampler import check_precision, generate

        rank, world = trainer.global_rank, trainer.world_size
        mine = np.array_split(np.arange(len(self.rows)), world)[rank]  # contiguous: global seeds
        device = pl_module.device
        network = copy.deepcopy(pl_module.model)
        pl_module.ema.copy_to(network)
        try:
            precision = check_precision(str(trainer.precision))
        except D3UserError:
            precision = "32-true"
        config = pl_module.config
        labels = None if config.model.label_mode == "none" else self.labels[mine]
        tokens = generate(network, pl_module.graph, pl_module.noise, length=int(config.model.length),
                          num=len(mine), labels=labels, steps=self.steps, predictor=self.predictor,
                          batch_size=self.batch_size, seed=self.seed + self.validations, device=device,
                          precision=precision, denoise=self.denoise,
                          guidance=self.guidance if labels is not None else 1.0,
                          first_index=int(mine[0]) if len(mine) else 0) if len(mine) else \
            np.zeros((0, int(config.model.length)), np.uint8)
        del network
        self.oracle.to(str(device))
        predicted = self.oracle.predict(tokens) if len(mine) else np.zeros((0, self.reference.shape[1]))
        totals = torch.tensor([float(((predicted - self.reference[mine]) ** 2).sum()), float(predicted.size)],
                              dtype=torch.float64, device=device)
        if world > 1:
            totals = trainer.strategy.reduce(totals, reduce_op="sum")
        return float(totals[0] / max(float(totals[1]), 1.0))


def make_sp_mse(config: Any = None) -> SPMSECallback:
    """Factory registered as callback ``sp_mse``: settings from the run config (see the module docstring)."""
    from d3core.plugins import get_plugin_manager

    if config is None:
        raise D3UserError("the sp_mse callback needs the run config (use d3 train --callback sp_mse)")
    dataset = get_plugin_manager().dataset(select_value(config, "dataset", None))
    data_path = select_value(config, "data.path", None)
    data_path = dataset.require(data_path)
    return SPMSECallback(
        dataset=dataset, data_path=data_path, oracle=select_value(config, "sp_mse.oracle", None),
        every_n_val=int(select_value(config, "sp_mse.every_n_val", DEFAULTS["every_n_val"])),
        num_sequences=int(select_value(config, "sp_mse.num_sequences", DEFAULTS["num_sequences"])),
        split=str(select_value(config, "sp_mse.split", DEFAULTS["split"])),
        steps=select_value(config, "sp_mse.steps", None) or select_value(config, "sampling.steps", None),
        batch_size=int(select_value(config, "sp_mse.batch_size", DEFAULTS["batch_size"])),
        predictor=str(select_value(config, "sp_mse.predictor", None) or select_value(config, "sampling.predictor", "analytic")),
        seed=int(select_value(config, "seed", 0)), denoise=bool(select_value(config, "sampling.noise_removal", True)),
        guidance=float(select_value(config, "sampling.guidance", 1.0)))
