"""Sampling from a checkpoint: :class:`SamplingModel` loads any registered checkpoint format and draws sequences.

::

    from d3core.generation import SamplingModel

    sm = SamplingModel.load("runs/x/checkpoints/last.ckpt")            # EMA weights, eval mode
    rows = sm.parse_labels(["dev=4,hk=1", "dev=0,hk=0"])                # [2, C]
    samples = sm.sample(rows, num=100, steps=128, seed=0)               # SampleSet: 200 sequences
    sm.sample_to_file("designed.fasta", rows, num=100, seed=0)          # streamed, atomic
    labels, ref_rows = sm.split_labels("test", limit=500)              # one row per test sequence
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import d3core
from d3core.errors import D3UserError
from d3core.generation import labels as label_parsing
from d3core.generation.io import SampleSet, SampleWriter
from d3core.generation.sampler import (DEFAULT_BATCH_SIZE, DEFAULT_STEPS, check_precision, default_device,
                                       default_precision, iter_chunks)


def file_sha256(path: Path, limit_bytes: int = 4 << 30) -> str | None:
    """SHA-256 of a checkpoint file (None for run directories and files over ``limit_bytes``)."""
    if not path.is_file() or path.stat().st_size > limit_bytes:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class SamplingModel:
    """A score model ready to sample, with what the checkpoint says about it."""

    model: Any
    graph: Any
    noise: Any
    config: dict[str, Any]
    checkpoint: Path
    checkpoint_format: str
    device: str
    recorded_precision: str | None = None
    step: int = 0
    label_names: list[str] = field(default_factory=list)
    manager: Any = None

    # -- loading -----------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, checkpoint: str | os.PathLike, device: str | None = None, *, data: str | os.PathLike | None = None,
             manager=None) -> "SamplingModel":
        """Load ``checkpoint`` (any registered format) with its EMA weights onto ``device`` (default: CUDA if
        available). ``data`` overrides the data file recorded in the checkpoint (used for label names)."""
        from d3core.checkpoints import load_bundle, model_from_bundle
        from d3core.plugins import get_plugin_manager

        manager = manager or get_plugin_manager()
        path = Path(checkpoint)
        fmt, bundle = load_bundle(path, manager)
        model, graph, noise = model_from_bundle(bundle, use_ema=True, manager=manager)
        device = device or default_device()
        _check_device(device)
        model = model.to(device).eval()
        config = dict(bundle.config)
        if bundle.dataset and not config.get("dataset"):
            config["dataset"] = bundle.dataset
        if data is not None:
            config.setdefault("data", {})
            config["data"] = {**(config.get("data") or {}), "path": str(data)}
        sm = cls(model=model, graph=graph, noise=noise, config=config, checkpoint=path, checkpoint_format=fmt,
                 device=str(device), recorded_precision=bundle.precision, step=int(bundle.step), manager=manager)
        sm.label_names = sm._resolve_label_names()
        return sm

    # -- facts -------------------------------------------------------------------------------------------------------
    @property
    def length(self) -> int:
        length = (self.config.get("model") or {}).get("length")
        return int(length) if length else int(self.dataset().length)

    @property
    def num_labels(self) -> int:
        model = self.config.get("model") or {}
        return 0 if model.get("label_mode", "global") == "none" else int(model.get("num_labels", 0))

    @property
    def label_mode(self) -> str:
        return str((self.config.get("model") or {}).get("label_mode", "global"))

    @property
    def dataset_name(self) -> str | None:
        return self.config.get("dataset")

    def dataset(self):
        """The dataset plugin object the model was trained on."""
        if not self.dataset_name:
            raise D3UserError(f"{self.checkpoint}: the checkpoint does not name its dataset; pass --dataset")
        from d3core.plugins import get_plugin_manager

        return (self.manager or get_plugin_manager()).dataset(self.dataset_name)

    def data_path(self) -> Path | None:
        path = (self.config.get("data") or {}).get("path")
        return Path(path).expanduser() if path else None

    def _resolve_label_names(self) -> list[str]:
        n = self.num_labels
        if n == 0:
            return []
        try:
            dataset = self.dataset()
        except Exception:
            dataset = None
        path = self.data_path()
        if dataset is not None:
            try:
                names = dataset.label_names_in(path if path is not None else None)
                if len(names) == n:
                    return list(names)
            except Exception:
                pass
            if len(dataset.label_names) == n:
                return list(dataset.label_names)
        return [f"label{i}" for i in range(n)]

    # -- labels ------------------------------------------------------------------------------------------------------
    def parse_labels(self, specs: Sequence[str]) -> np.ndarray:
        """``--labels`` values (``name=value`` pairs, positional values, CSV/TSV tables) -> ``[R, C]``."""
        if self.label_mode == "per_position":
            raise D3UserError("this model takes per-position labels; --labels gives global values only. Use "
                              "--labels-from test|valid")
        if self.num_labels == 0:
            if specs:
                raise D3UserError(f"{self.checkpoint}: the model is unconditional; drop --labels")
            return np.zeros((0, 0), dtype=np.float32)
        return label_parsing.label_rows(specs, self.label_names)

    def split_labels(self, split: str, *, data: str | os.PathLike | None = None, dataset=None,
                     limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The labels of every row (or the first ``limit`` rows) of a split of the dataset file:
        ``(labels [R, C], rows [R])``."""
        dataset = dataset or self.dataset()
        path = Path(data) if data is not None else self.data_path()
        opened = dataset.open_split(path, split)
        n = len(opened) if limit is None else min(int(limit), len(opened))
        rows = np.arange(n, dtype=np.int64)
        labels = np.empty((n, len(opened.label_names)), dtype=np.float32)
        for start in range(0, n, 65536):
            labels[start:start + 65536] = opened.read_batch(rows[start:start + 65536])[1].numpy()
        if labels.shape[1] != self.num_labels:
            raise D3UserError(f"{path}: split {split!r} has {labels.shape[1]} label column(s) but the model takes "
                              f"{self.num_labels}; use the data file the model was trained on (--data)")
        return labels, rows

    # -- sampling ----------------------------------------------------------------------------------------------------
    def metadata(self, **extra) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "checkpoint_format": self.checkpoint_format,
                "checkpoint_sha256": file_sha256(self.checkpoint), "checkpoint_step": self.step,
                "dataset": self.dataset_name, "data": _existing(self.data_path()),
                "arch": self.config.get("arch"), "length": self.length,
                "label_names": list(self.label_names), "d3core_version": d3core.__version__, **extra}

    def plan_rows(self, label_rows: np.ndarray | None, num: int) -> tuple[np.ndarray | None, int]:
        """Check a request; return ``(label rows repeated num times [R*num, C] or None, number of sequences)``."""
        if self.num_labels and (label_rows is None or len(label_rows) == 0):
            example = ",".join(f"{n}=1.0" for n in self.label_names)
            raise D3UserError(f"the model is conditioned on {', '.join(self.label_names)}: give --labels "
                              f"{example} (or a CSV of label rows), or --labels-from test")
        if num < 1:
            raise D3UserError(f"--num {num}: must be at least 1")
        if not self.num_labels:
            return None, num
        rows = np.asarray(label_rows, dtype=np.float32).reshape(len(label_rows), -1)
        if rows.shape[1] != self.num_labels:
            raise D3UserError(f"label rows have {rows.shape[1]} column(s); the model takes {self.num_labels}")
        return label_parsing.expand(rows, num), rows.shape[0] * num

    def resolve(self, precision: str | None, predictor: str | None) -> tuple[str, str]:
        """``(precision, predictor)`` with the defaults filled in (see :func:`default_precision`)."""
        precision = check_precision(precision) if precision else default_precision(self.device,
                                                                                   self.recorded_precision)
        return precision, (predictor or self.default_predictor).lower()

    def iter_samples(self, label_rows: np.ndarray | None = None, num: int = 1, *, steps: int = DEFAULT_STEPS,
                     predictor: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                     precision: str | None = None, on_step: Callable[[int, int], None] | None = None):
        """Yield ``(start, tokens [b, L], labels [b, C] | None)`` chunks of ``num`` sequences per label row."""
        labels, total = self.plan_rows(label_rows, num)
        precision, predictor = self.resolve(precision, predictor)
        for start, tokens in iter_chunks(self.model, self.graph, self.noise, length=self.length, num=total,
                                         labels=labels, steps=steps, predictor=predictor, batch_size=batch_size,
                                         seed=seed, device=self.device, precision=precision, on_step=on_step):
            yield start, tokens, (None if labels is None else labels[start:start + len(tokens)])

    @property
    def default_predictor(self) -> str:
        return str((self.config.get("sampling") or {}).get("predictor") or "analytic")

    def sample(self, label_rows: np.ndarray | None = None, num: int = 1, *, source_rows: np.ndarray | None = None,
               reference_split: str | None = None, steps: int = DEFAULT_STEPS, predictor: str | None = None,
               batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0, precision: str | None = None,
               on_step: Callable[[int, int], None] | None = None) -> SampleSet:
        """``num`` sequences per label row, in memory, as a :class:`SampleSet` (tokens ``[R * num, L]``)."""
        precision, predictor = self.resolve(precision, predictor)
        parts, labels_out = [], []
        for _, tokens, labels in self.iter_samples(label_rows, num, steps=steps, predictor=predictor,
                                                   batch_size=batch_size, seed=seed, precision=precision,
                                                   on_step=on_step):
            parts.append(tokens)
            labels_out.append(labels)
        tokens = np.concatenate(parts) if parts else np.zeros((0, self.length), np.uint8)
        labels = None if not labels_out or labels_out[0] is None else np.concatenate(labels_out)
        rows = None if source_rows is None else np.repeat(np.asarray(source_rows, np.int64), num)
        meta = self.metadata(steps=steps, predictor=predictor, seed=seed, precision=precision, device=self.device,
                             num_per_row=num, reference_split=reference_split)
        return SampleSet(tokens, labels, list(self.label_names), rows, meta)

    def sample_to_file(self, path: str | os.PathLike, label_rows: np.ndarray | None = None, num: int = 1, *,
                       source_rows: np.ndarray | None = None, reference_split: str | None = None,
                       steps: int = DEFAULT_STEPS, predictor: str | None = None,
                       batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0, precision: str | None = None,
                       overwrite: bool = False, on_step: Callable[[int, int], None] | None = None,
                       extra_metadata: dict | None = None) -> dict[str, Any]:
        """Stream the sequences into ``path`` (format from the extension; atomic). Returns a summary dict."""
        precision, predictor = self.resolve(precision, predictor)
        rows = None if source_rows is None else np.repeat(np.asarray(source_rows, np.int64), num)
        meta = self.metadata(steps=steps, predictor=predictor, seed=seed, precision=precision, device=self.device,
                             num_per_row=num, reference_split=reference_split, **(extra_metadata or {}))
        started = time.perf_counter()
        count = 0
        with SampleWriter(path, self.label_names, meta, overwrite=overwrite) as writer:
            for start, tokens, labels in self.iter_samples(label_rows, num, steps=steps, predictor=predictor,
                                                           batch_size=batch_size, seed=seed, precision=precision,
                                                           on_step=on_step):
                writer.write(tokens, labels, None if rows is None else rows[start:start + len(tokens)])
                count += len(tokens)
        seconds = time.perf_counter() - started
        return {"path": Path(path), "num": count, "seconds": seconds, "per_second": count / max(seconds, 1e-9),
                "precision": precision, "predictor": predictor, "device": self.device}


def _existing(path: Path | None) -> str | None:
    return str(path.resolve()) if path is not None and path.is_file() else None


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise D3UserError(f"--device {device!r}: not a torch device ({exc}); use cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise D3UserError(f"--device {device}: CUDA is not available here; use --device cpu")
