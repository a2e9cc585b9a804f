"""``d3 oracle train``: fit a dataset plugin's oracle network on its data with Lightning and write a d3 oracle file.

Spec §8.1 settings: MSE, Adam lr 2e-3, weight decay 1e-6, ReduceLROnPlateau (patience 10, factor 0.1), batch 128, at
most 100 epochs, early stopping on ``val_loss`` (patience 10, min_delta 1e-3), best-epoch weights kept, seed 41. The
file reports test Pearson and Spearman per label and loads with :func:`d3core.evaluation.oracle.load_oracle`.

A run can be watched and stopped: the oracle file is rewritten (atomically) each time the validation loss improves,
marked ``partial`` until the run ends, so a run stopped by SIGTERM or SIGINT leaves its best epoch so far and raises
:class:`TrainingStopped`. The final test and valid evaluations read at most ``test_rows`` random rows each.

Missing labels (NaN, data imported with the outer join) take no part in the loss, and the metrics of a label use the
rows where it was measured.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from d3core.errors import D3UserError
from d3core.evaluation.oracle import default_oracle_path, save_oracle
from d3core.evaluation.oracle_interface import Oracle, one_hot_tensor
from d3core.evaluation.oracle_networks import oracle_network_class

#: spec §8.1 hyper-parameters
TRAINING_DEFAULTS = {"batch_size": 128, "max_epochs": 100, "patience": 10, "min_delta": 1e-3, "lr": 2e-3,
                     "weight_decay": 1e-6, "lr_patience": 10, "lr_factor": 0.1, "seed": 41, "test_rows": 10000}
#: exit status of a run stopped by a signal, as a shell reports it (128 + signal number)
STOP_STATUS = {"SIGINT": 130, "SIGTERM": 143}


class TrainingStopped(Exception):
    """Training ended by SIGTERM or SIGINT: ``signal`` (its name), ``path`` (the oracle file holding the best epoch
    so far, or None when no epoch finished), ``best_epoch`` and ``val_loss`` of that epoch."""

    def __init__(self, signal: str, path: Path | None, best_epoch: int | None, val_loss: float | None):
        self.signal, self.path, self.best_epoch, self.val_loss = signal, path, best_epoch, val_loss
        self.status = STOP_STATUS[signal]
        where = (f"the best epoch so far ({best_epoch}, val_loss {val_loss:.4f}) is in {path} (marked partial: no "
                 "test metrics)") if path is not None else "no epoch finished, no oracle file written"
        super().__init__(f"oracle training stopped by {signal}; {where}")


def masked_mse(prediction, labels):
    """MSE of ``prediction [B, C]`` against ``labels [B, C]`` over the measured (non-NaN) labels; exactly
    ``mse_loss`` when every label is measured."""
    import torch

    measured = ~torch.isnan(labels)
    if bool(measured.all()):
        return torch.nn.functional.mse_loss(prediction, labels)
    squared = torch.where(measured, prediction - labels.nan_to_num(0.0), torch.zeros_like(prediction)) ** 2
    return squared.sum() / measured.sum().clamp(min=1)


def _lightning_module(network, *, lr: float, weight_decay: float, lr_patience: int, lr_factor: float):
    import pytorch_lightning as pl
    import torch

    class OracleModule(pl.LightningModule):
        """MSE regression of activities from one-hot sequence; logs ``train_loss``, ``val_loss``, ``val_pearson``."""

        def __init__(self):
            super().__init__()
            self.network = network
            self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

        def forward(self, x):
            return self.network(x)

        def _step(self, batch):
            tokens, labels = batch
            prediction = self.network(one_hot_tensor(tokens).to(self.device))
            return prediction, labels.float(), masked_mse(prediction, labels.float())

        def training_step(self, batch, batch_idx):
            _, _, loss = self._step(batch)
            self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=batch[0].shape[0])
            return loss

        def validation_step(self, batch, batch_idx):
            prediction, labels, loss = self._step(batch)
            self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=batch[0].shape[0])
            self._val.append((prediction.detach().cpu(), labels.cpu()))

        def on_validation_epoch_end(self):
            if self._val:
                from d3core.evaluation.metrics import pearson

                prediction = torch.cat([p for p, _ in self._val]).numpy()
                labels = torch.cat([y for _, y in self._val]).numpy()
                self.log("val_pearson", float(np.nanmean(pearson(prediction, labels))), prog_bar=True)
            self._val.clear()

        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", patience=lr_patience,
                                                                   factor=lr_factor, min_lr=0)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}

    return OracleModule()


def training_rows(n: int, *, limit: int | None = None, fraction: float = 1.0, seed: int = 0) -> list[int]:
    """The train-split rows an oracle is fitted on: the first ``limit`` rows (all by default), then, for
    ``fraction`` < 1, a random ``round(fraction * n)`` of them drawn with ``seed`` (in file order), so two oracles
    trained with different seeds see different data (an independent judge)."""
    rows = np.arange(min(n, int(limit)) if limit is not None else n)
    if fraction < 1:
        keep = max(2, int(round(fraction * len(rows))))
        rows = np.sort(np.random.default_rng(int(seed)).permutation(rows)[:keep])
    return rows.tolist()


def _loader(split_data, batch_size: int, *, shuffle: bool, seed: int, rows: list[int] | None = None):
    import torch
    from torch.utils.data import DataLoader, Subset

    data = split_data
    if rows is not None and len(rows) < len(split_data):
        data = Subset(split_data, rows)
    generator = torch.Generator().manual_seed(seed)
    batch_size = max(1, min(batch_size, len(data)))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=getattr(split_data, "collate_fn", None), drop_last=False)


def _best_so_far(save, echo, max_epochs: int):
    import pytorch_lightning as pl

    class BestSoFar(pl.Callback):
        """After each validation: when ``val_loss`` improved, ``save(network, best_epoch, val_loss)`` (the oracle
        file, atomically) and keep its weights (:attr:`state`); one line per epoch through ``echo`` with the
        seconds per epoch and the most time left; the exception that ended training (SIGTERM, SIGINT) in
        :attr:`stopped_by`."""

        def __init__(self):
            self.best_loss, self.best_epoch, self.path, self.state = float("inf"), None, None, None
            self.stopped_by: BaseException | None = None
            self.started = time.perf_counter()

        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking or "val_loss" not in trainer.callback_metrics:
                return
            epoch, loss = int(trainer.current_epoch), float(trainer.callback_metrics["val_loss"])
            if loss < self.best_loss:
                self.best_loss, self.best_epoch = loss, epoch
                self.state = {k: v.detach().cpu().clone() for k, v in pl_module.network.state_dict().items()}
                self.path = save(pl_module.network, epoch, loss)
            if echo is not None:
                m = trainer.callback_metrics
                per_epoch = (time.perf_counter() - self.started) / (epoch + 1)
                left = (max_epochs - epoch - 1) * per_epoch
                parts = [f"{k} {float(m[k]):.4f}" for k in ("train_loss", "val_loss", "val_pearson") if k in m]
                echo(f"oracle epoch {epoch}/{max_epochs - 1}: " + ", ".join(parts)
                     + f"; best epoch {self.best_epoch} (saved); {per_epoch:.1f} s/epoch, at most "
                     f"{left / 60:.1f} min left (early stopping usually ends sooner)")

        def on_exception(self, trainer, pl_module, exception):
            self.stopped_by = exception

    return BestSoFar()


def _stop_signal(exception: BaseException | None) -> str | None:
    """``SIGTERM``/``SIGINT`` when ``exception`` is how training ended on that signal, else None: Lightning's
    ``SIGTERMException``, or d3's ``SystemExit(143)`` (:func:`d3core.atomic.on_sigterm_exit`, which a command that
    holds its output installs and Lightning calls after its own handler); ``KeyboardInterrupt`` for SIGINT."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from d3core.atomic import SIGTERM_STATUS

    if isinstance(exception, SIGTERMException) or (isinstance(exception, SystemExit)
                                                   and exception.code == SIGTERM_STATUS):
        return "SIGTERM"
    if isinstance(exception, KeyboardInterrupt):
        return "SIGINT"
    return None


def evaluation_rows(n: int, limit: int | None, seed: int = 0) -> np.ndarray:
    """At most ``limit`` rows of a split of ``n`` rows (all for None): a seeded random subset, in file order."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(limit), replace=False))


def evaluate_oracle(oracle: Oracle, dataset, data_path, split: str = "test", *,
                    max_rows: int | None = None) -> dict[str, Any]:
    """Per-label Pearson and Spearman, and MSE, of the oracle on a split (at most ``max_rows`` random rows of it,
    :func:`evaluation_rows`; over the measured labels: with missing labels also the measured rows per label);
    ``<split>_rows`` says how many rows, ``<split>_rows_total`` of how many."""
    from d3core.evaluation.metrics import pearson, spearman

    opened = dataset.open_split(data_path, split)
    tokens, labels = opened.read_batch(evaluation_rows(len(opened), max_rows))
    prediction = oracle.predict(tokens.numpy())
    y = labels.numpy()
    measured = ~np.isnan(y)
    out = {f"{split}_pearson": dict(zip(oracle.label_names, map(float, pearson(prediction, y)))),
           f"{split}_spearman": dict(zip(oracle.label_names, map(float, spearman(prediction, y)))),
           f"{split}_mse": float(np.mean((prediction - y)[measured] ** 2) if not measured.all()
                                 else np.mean((prediction - y) ** 2)), f"{split}_rows": int(len(y)),
           f"{split}_rows_total": int(len(opened))}
    if not measured.all():
        out[f"{split}_measured"] = dict(zip(oracle.label_names, map(int, measured.sum(axis=0))))
    return out


def train_oracle(dataset, data_path: str | os.PathLike, out: str | os.PathLike | None = None, *,
                 max_epochs: int | None = None, patience: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, seed: int | None = None, accelerator: str = "auto",
                 limit_train: int | None = None, train_fraction: float = 1.0, test_rows: int | None = None,
                 progress: bool = False, logger: bool = False, echo=None) -> tuple[Path, dict]:
    """Fit the dataset's oracle on its train split (early stopping on the valid split), score the test split, and
    write the oracle file (default :func:`default_oracle_path`). Returns ``(path, metrics)``.

    ``limit_train`` and ``train_fraction`` choose the training rows (:func:`training_rows`, with the seed);
    ``test_rows`` bounds the final test and valid evaluations (default 10000 random rows each).

    ``progress`` shows Lightning's progress bar (epoch, step, ETA); ``echo(line)`` receives one line per epoch
    (losses, best epoch, seconds per epoch). The best epoch so far is in ``out`` as soon as it is seen; SIGTERM or
    SIGINT raise :class:`TrainingStopped` once Lightning has stopped.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping

    settings = dict(TRAINING_DEFAULTS)
    for key, value in (("max_epochs", max_epochs), ("patience", patience), ("batch_size", batch_size), ("lr", lr),
                       ("seed", seed), ("test_rows", test_rows)):
        if value is not None:
            settings[key] = value
    data_path = dataset.require(data_path)
    out = Path(out) if out is not None else default_oracle_path(data_path)
    dataset.validate(data_path)
    label_names = dataset.label_names_in(data_path)
    length = int(dataset.length)
    cls = oracle_network_class(dataset)
    pl.seed_everything(int(settings["seed"]), workers=True, verbose=False)
    network = cls(num_outputs=len(label_names), length=length)
    module = _lightning_module(network, lr=float(settings["lr"]), weight_decay=float(settings["weight_decay"]),
                               lr_patience=int(settings["lr_patience"]), lr_factor=float(settings["lr_factor"]))
    train = dataset.open_split(data_path, "train")
    valid = dataset.open_split(data_path, "valid")
    if len(train) < 2:
        raise D3UserError(f"{data_path}: the train split has {len(train)} row(s); an oracle needs more")
    if not 0 < train_fraction <= 1:
        raise D3UserError(f"--train-fraction {train_fraction:g}: must be in (0, 1]")
    rows = training_rows(len(train), limit=limit_train, fraction=train_fraction, seed=int(settings["seed"]))
    batch = int(settings["batch_size"])
    target = getattr(dataset, "oracle", None)
    network_name = target if isinstance(target, str) else f"{cls.__module__}:{cls.__qualname__}"
    info = {"dataset": dataset.name, "network": network_name, "num_outputs": len(label_names), "length": length,
            "label_names": list(label_names), "data": str(data_path),
            "trained_with": {**{k: settings[k] for k in sorted(settings)}, "train_fraction": float(train_fraction),
                             "limit_train": limit_train}}

    def save_best(net, epoch: int, val_loss: float) -> Path:
        return save_oracle(out, net, {**info, "partial": "best epoch so far of an unfinished run; no test metrics",
                                      "metrics": {"best_epoch": epoch, "val_loss": val_loss}})

    best = _best_so_far(save_best, echo, int(settings["max_epochs"]))
    stop = EarlyStopping(monitor="val_loss", mode="min", patience=int(settings["patience"]),
                         min_delta=float(settings["min_delta"]))
    trainer = pl.Trainer(accelerator=accelerator, devices=1, max_epochs=int(settings["max_epochs"]),
                         callbacks=[best, stop], logger=logger, enable_checkpointing=False,
                         enable_model_summary=False, enable_progress_bar=progress, deterministic=False,
                         log_every_n_steps=1, num_sanity_val_steps=0)
    try:
        trainer.fit(module, _loader(train, batch, shuffle=True, seed=int(settings["seed"]), rows=rows),
                    _loader(valid, 512, shuffle=False, seed=0))
    except BaseException as exc:  # Lightning re-raises SIGTERM as SIGTERMException, SIGINT as SystemExit(1)
        best.stopped_by = best.stopped_by or exc
    signal_name = _stop_signal(best.stopped_by)
    if signal_name is not None:
        raise TrainingStopped(signal_name, best.path, best.best_epoch,
                              None if best.best_epoch is None else best.best_loss) from best.stopped_by
    if best.stopped_by is not None:
        raise best.stopped_by
    if best.state is not None:
        module.network.load_state_dict(best.state)
    network = module.network.cpu().eval()
    oracle = Oracle(network, dataset.name, list(label_names), length)
    bound = settings["test_rows"]
    metrics = evaluate_oracle(oracle, dataset, data_path, "test", max_rows=bound)
    metrics.update(evaluate_oracle(oracle, dataset, data_path, "valid", max_rows=bound))
    metrics.update(epochs=int(trainer.current_epoch), best_epoch=best.best_epoch, train_rows=len(rows))
    info["metrics"] = metrics
    save_oracle(out, network, info)
    return out, metrics


