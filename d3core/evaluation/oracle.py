"""Oracles: regression CNNs that predict a dataset's activities from sequence, used to score generated sequences.

A dataset plugin names its oracle network with a class attribute (``oracle = "d3_deepstarr.oracle:DeepSTARROracle"``,
a ``torch.nn.Module`` built as ``Class(num_outputs=C, length=L)`` taking one-hot ``[B, 4, L]`` float). Everything else
is generic and lives here: Lightning training with early stopping (spec §8.1: MSE, Adam lr 2e-3, weight decay 1e-6,
ReduceLROnPlateau, batch 128, patience 10 with min_delta 1e-3), test Pearson/Spearman per label, and the oracle file.

Oracle file (``.ckpt``, loadable with ``torch.load(weights_only=True)``; needs no data file to load)::

    {"d3_oracle": {"version": 1, "dataset", "network": "module:Class", "num_outputs", "length", "label_names",
                   "metrics": {"test_pearson": {label: r}, "test_spearman": {...}, "test_mse", "best_epoch", ...},
                   "data", "seed", "trained_with": {...}},
     "state_dict": {...}}

Default location: beside the data file, ``<data dir>/<data stem>.oracle.ckpt`` (:func:`default_oracle_path`), where
``d3 evaluate`` and the ``sp_mse`` callback look when no oracle is named.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from d3core.errors import D3UserError

ORACLE_KEY = "d3_oracle"
ORACLE_VERSION = 1

#: spec §8.1 hyper-parameters
TRAINING_DEFAULTS = {"batch_size": 128, "max_epochs": 100, "patience": 10, "min_delta": 1e-3, "lr": 2e-3,
                     "weight_decay": 1e-6, "lr_patience": 10, "lr_factor": 0.1, "seed": 41}


def default_oracle_path(data_path: str | os.PathLike) -> Path:
    """``<data dir>/<data stem>.oracle.ckpt``: where ``d3 oracle train`` writes and the others look by default."""
    data_path = Path(data_path)
    return data_path.with_name(f"{data_path.stem}.oracle.ckpt")


def oracle_network_class(dataset) -> type:
    """The oracle ``nn.Module`` class a dataset plugin names (``oracle = "module:Class"``)."""
    target = getattr(dataset, "oracle", None)
    if not target:
        raise D3UserError(f"dataset {getattr(dataset, 'name', dataset)!r} registers no oracle; its plugin can add "
                          "one with a class attribute oracle = 'my_pkg.oracle:MyOracle' (an nn.Module taking "
                          "one-hot [B, 4, L])")
    if isinstance(target, type):
        return target
    module_name, _, attr = str(target).partition(":")
    try:
        return getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise D3UserError(f"dataset {dataset.name!r}: cannot import its oracle {target!r} ({exc})") from exc


def one_hot(tokens) -> "torch.Tensor":  # noqa: F821
    """Tokens ``[B, L]`` (numpy or torch) -> float one-hot ``[B, 4, L]``."""
    import torch

    tokens = torch.as_tensor(np.asarray(tokens) if not torch.is_tensor(tokens) else tokens).long()
    return torch.nn.functional.one_hot(tokens, 4).permute(0, 2, 1).float()


@dataclass
class Oracle:
    """A trained oracle: ``predict(tokens [N, L]) -> [N, C]`` numpy activities."""

    network: Any
    dataset: str
    label_names: list[str]
    length: int
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    device: str = "cpu"

    def predict(self, tokens, batch_size: int = 512) -> np.ndarray:
        import torch

        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != self.length:
            raise D3UserError(f"the oracle{f' {self.path}' if self.path else ''} scores {self.length} bp sequences; "
                              f"got shape {tuple(tokens.shape)}")
        self.network.eval()
        out = np.empty((tokens.shape[0], len(self.label_names)), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, tokens.shape[0], batch_size):
                x = one_hot(tokens[start:start + batch_size]).to(self.device)
                out[start:start + x.shape[0]] = self.network(x).float().cpu().numpy()
        return out

    def to(self, device: str) -> "Oracle":
        self.network.to(device)
        self.device = str(device)
        return self


def load_oracle(path: str | os.PathLike, device: str = "cpu") -> Oracle:
    """Read an oracle file written by :func:`train_oracle`."""
    from d3core.checkpoints import safe_torch_load

    path = Path(path)
    if not path.is_file():
        raise D3UserError(f"{path}: no such oracle file; train one with 'd3 oracle train --dataset NAME --data FILE'")
    content = safe_torch_load(path)
    if not isinstance(content, dict) or ORACLE_KEY not in content:
        raise D3UserError(f"{path}: not a d3 oracle file (no {ORACLE_KEY!r} entry); train one with "
                          "'d3 oracle train'")
    info = dict(content[ORACLE_KEY])
    module_name, _, attr = str(info["network"]).partition(":")
    try:
        cls = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise D3UserError(f"{path}: its network {info['network']!r} cannot be imported ({exc}); install the "
                          f"dataset plugin of {info.get('dataset')!r}") from exc
    network = cls(num_outputs=int(info["num_outputs"]), length=int(info["length"]))
    missing, unexpected = network.load_state_dict(content["state_dict"], strict=False)
    if missing or unexpected:
        raise D3UserError(f"{path}: weights do not fit {info['network']} (missing {list(missing)[:3]}, unexpected "
                          f"{list(unexpected)[:3]})")
    oracle = Oracle(network.eval(), str(info.get("dataset")), list(info["label_names"]), int(info["length"]), info,
                    path)
    return oracle.to(device)


def save_oracle(path: str | os.PathLike, network, info: dict[str, Any]) -> Path:
    from d3core.atomic import atomic_torch_save

    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    atomic_torch_save({ORACLE_KEY: {"version": ORACLE_VERSION, **info}, "state_dict": state}, path)
    return Path(path)


# ------------------------------------------------------------------------------------------------------ training
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
            prediction = self.network(one_hot(tokens).to(self.device))
            return prediction, labels.float(), torch.nn.functional.mse_loss(prediction, labels.float())

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


def _loader(split_data, batch_size: int, *, shuffle: bool, seed: int, limit: int | None = None):
    import torch
    from torch.utils.data import DataLoader, Subset

    data = split_data
    if limit is not None and limit < len(split_data):
        data = Subset(split_data, list(range(int(limit))))
    generator = torch.Generator().manual_seed(seed)
    batch_size = max(1, min(batch_size, len(data)))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=getattr(split_data, "collate_fn", None), drop_last=False)


def _epoch_lines(echo):
    import pytorch_lightning as pl

    class EpochLines(pl.Callback):
        """One line per validation epoch: ``oracle epoch 3: val_loss 0.91, val_pearson 0.62``."""

        def on_validation_epoch_end(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            m = trainer.callback_metrics
            parts = [f"{k} {float(m[k]):.4f}" for k in ("train_loss", "val_loss", "val_pearson") if k in m]
            echo(f"oracle epoch {trainer.current_epoch}: " + ", ".join(parts))

    return EpochLines()


def evaluate_oracle(oracle: Oracle, dataset, data_path, split: str = "test") -> dict[str, Any]:
    """Per-label Pearson and Spearman, and MSE, of the oracle on a split."""
    from d3core.evaluation.metrics import pearson, spearman

    opened = dataset.open_split(data_path, split)
    tokens, labels = opened.read_batch(np.arange(len(opened)))
    prediction = oracle.predict(tokens.numpy())
    y = labels.numpy()
    return {f"{split}_pearson": dict(zip(oracle.label_names, map(float, pearson(prediction, y)))),
            f"{split}_spearman": dict(zip(oracle.label_names, map(float, spearman(prediction, y)))),
            f"{split}_mse": float(np.mean((prediction - y) ** 2)), f"{split}_rows": int(len(y))}


def train_oracle(dataset, data_path: str | os.PathLike, out: str | os.PathLike | None = None, *,
                 max_epochs: int | None = None, patience: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, seed: int | None = None, accelerator: str = "auto",
                 limit_train: int | None = None, progress: bool = False, logger: bool = False,
                 echo=None) -> tuple[Path, dict]:
    """Fit the dataset's oracle on its train split (early stopping on the valid split), score the test split, and
    write the oracle file (default :func:`default_oracle_path`). Returns ``(path, metrics)``.

    ``progress`` shows Lightning's progress bar; ``echo(line)`` receives one line per epoch (val_loss, val_pearson).
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    settings = dict(TRAINING_DEFAULTS)
    for key, value in (("max_epochs", max_epochs), ("patience", patience), ("batch_size", batch_size), ("lr", lr),
                       ("seed", seed)):
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
    batch = int(settings["batch_size"])
    with tempfile.TemporaryDirectory(prefix=".oracle-", dir=out.parent if out.parent.exists() else None) as tmp:
        best = ModelCheckpoint(dirpath=tmp, monitor="val_loss", mode="min", save_top_k=1, save_weights_only=True,
                               filename="best", enable_version_counter=False)
        stop = EarlyStopping(monitor="val_loss", mode="min", patience=int(settings["patience"]),
                             min_delta=float(settings["min_delta"]))
        trainer = pl.Trainer(accelerator=accelerator, devices=1, max_epochs=int(settings["max_epochs"]),
                             callbacks=[best, stop] + ([_epoch_lines(echo)] if echo else []), logger=logger,
                             enable_model_summary=False,
                             enable_progress_bar=progress, default_root_dir=tmp, deterministic=False,
                             log_every_n_steps=1, num_sanity_val_steps=0)
        trainer.fit(module, _loader(train, batch, shuffle=True, seed=int(settings["seed"]), limit=limit_train),
                    _loader(valid, 512, shuffle=False, seed=0))
        if best.best_model_path:
            from d3core.checkpoints import safe_torch_load

            state = safe_torch_load(best.best_model_path)["state_dict"]
            module.load_state_dict(state)
        best_epoch = int(trainer.current_epoch - stop.wait_count) if stop.wait_count else int(trainer.current_epoch)
        epochs = int(trainer.current_epoch)
    network = module.network.cpu().eval()
    oracle = Oracle(network, dataset.name, list(label_names), length)
    metrics = evaluate_oracle(oracle, dataset, data_path, "test")
    metrics.update(evaluate_oracle(oracle, dataset, data_path, "valid"))
    metrics.update(epochs=epochs, best_epoch=best_epoch, train_rows=min(len(train), limit_train or len(train)))
    target = getattr(dataset, "oracle", None)
    network_name = target if isinstance(target, str) else f"{cls.__module__}:{cls.__qualname__}"
    info = {"dataset": dataset.name, "network": network_name, "num_outputs": len(label_names), "length": length,
            "label_names": list(label_names), "metrics": metrics, "data": str(data_path),
            "trained_with": {k: settings[k] for k in sorted(settings)}}
    save_oracle(out, network, info)
    return out, metrics


def find_oracle(dataset, data_path: str | os.PathLike | None, explicit: str | os.PathLike | None = None,
                device: str = "cpu") -> Oracle | None:
    """The oracle named explicitly, else the default one beside the data file, else None."""
    if explicit:
        oracle = load_oracle(explicit, device)
    else:
        if data_path is None:
            return None
        candidate = default_oracle_path(data_path)
        if not candidate.is_file():
            return None
        oracle = load_oracle(candidate, device)
    if oracle.dataset != dataset.name:
        raise D3UserError(f"{oracle.path}: an oracle for dataset {oracle.dataset!r}, not {dataset.name!r}")
    return oracle


def check_label_names(oracle: Oracle, names: Sequence[str]) -> None:
    if names and list(names) != list(oracle.label_names):
        raise D3UserError(f"{oracle.path}: the oracle predicts {', '.join(oracle.label_names)} but the samples are "
                          f"labelled {', '.join(names)}; use an oracle trained on the same data")
