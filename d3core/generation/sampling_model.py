"""Sampling from a checkpoint: :class:`SamplingModel` loads any registered checkpoint format and draws sequences.

::

    from d3core.generation import SamplingModel

    sm = SamplingModel.load("runs/x/checkpoints/last.ckpt")            # EMA weights, eval mode
    rows = sm.parse_labels(["dev=4,hk=1", "dev=0,hk=0"])                # [2, C]
    samples = sm.sample(rows, num=100, seed=0)                          # SequenceSet: 200 sequences
    samples = sm.sample(rows, num=100, seed=0, guidance=2.0)            # classifier-free guidance
    template = sm.template("ACGT" + "N" * 241 + "ACGT")                 # fixed flanks, free middle
    sm.sample_to_file("designed.fasta", rows, num=100, seed=0, template=template)   # streamed, atomic
    labels, ref_rows = sm.split_labels("test", limit=500)              # one row per test sequence

Sampling options (keyword arguments of :meth:`SamplingModel.sample`, :meth:`SamplingModel.sample_to_file` and
:meth:`SamplingModel.iter_samples`; see :class:`SamplingOptions`) left at None take the run's ``sampling.*`` config,
else the original generation protocol (analytic predictor, steps = L, final denoising step, guidance 1).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import d3core
from d3core.architecture import wants_label_nulls
from d3core.errors import D3UserError
from d3core.generation import labels as label_parsing
from d3core.generation import templates as template_parsing
from d3core.generation.constraints import SEED_STRIDE, SynthesisLog, SynthesisRules
from d3core.seqfiles.files import SequenceWriter
from d3core.seqfiles.records import SequenceSet
from d3core.generation.sampler import (DEFAULT_BATCH_SIZE, check_precision, check_predictor, default_device,
                                       default_precision, has_null_condition, iter_chunks)
from d3core.generation.shards import Shard
from d3core.generation.templates import Template


@dataclass
class SamplingOptions:
    """How to sample. None: the run's ``sampling.*`` config, else the original generation protocol.

    ``steps`` (default L; with ``start_at`` < 1: ``ceil(start_at * L)``), ``predictor`` (``analytic``), ``denoise``
    (the final denoising step, config ``sampling.noise_removal``), ``guidance`` (1: plain conditional), ``precision``
    (``32-true`` on CPU, the checkpoint's on GPU), ``batch_size``, ``seed``; ``template``: fixed positions;
    ``start`` / ``start_at``: start sequences and the time to start from (default 0.5 with ``start``); ``rules``:
    synthesis rules every sequence must meet, enforced by in-fill (:mod:`d3core.generation.constraints`).
    """

    steps: int | None = None
    predictor: str | None = None
    denoise: bool | None = None
    guidance: float | None = None
    precision: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    seed: int = 0
    template: Template | None = None
    start: Template | None = None
    start_at: float | None = None
    rules: SynthesisRules | None = None

    def describe(self) -> dict[str, Any]:
        """The settings that go into sample-file metadata (plain values)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("template", "start", "batch_size", "rules")}
        if self.rules is not None and self.rules.active:
            out["synthesis_rules"] = self.rules.as_dict()
        if self.template is not None:
            out["template"] = {"source": self.template.source, "rows": len(self.template),
                               "fixed_positions": int(self.template.known.sum(axis=1).max())}
        if self.start is not None:
            out["start_from"] = {"source": self.start.source, "rows": len(self.start)}
        return out


def file_sha256(path: Path, limit_bytes: int = 4 << 30) -> str | None:
    """SHA-256 of a checkpoint file (None for run directories and files over ``limit_bytes``)."""
    if not path.is_file() or path.stat().st_size > limit_bytes:
        return None
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


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
        """``--labels`` values (``name=value`` pairs, positional values, CSV/TSV tables) -> ``[R, C]``; a model with
        per-label nulls takes ``name=value`` pairs for a subset of its labels (the others NaN: unconditioned)."""
        if self.label_mode == "per_position":
            raise D3UserError("this model takes per-position labels; --labels gives global values only. Use "
                              "--labels-from test|valid")
        if self.num_labels == 0:
            if specs:
                raise D3UserError(f"{self.checkpoint}: the model is unconditional; drop --labels")
            return np.zeros((0, 0), dtype=np.float32)
        return label_parsing.label_rows(specs, self.label_names, subset=self.supports_label_subsets)

    def split_labels(self, split: str, *, data: str | os.PathLike | None = None, dataset=None,
                     limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The labels of every row (or the first ``limit`` rows) of a split of the dataset file:
        ``(labels [R, C], rows [R])``; NaN (not measured: that label unconditioned) only for a model with per-label
        nulls, an error otherwise."""
        dataset = dataset or self.dataset()
        path = Path(data) if data is not None else self.data_path()
        opened = dataset.open_split(path, split)
        n = len(opened) if limit is None else min(int(limit), len(opened))
        rows = np.arange(n, dtype=np.int64)
        labels = np.empty((n, len(opened.label_names)), dtype=np.float32)
        for start in range(0, n, 65536):
            labels[start:start + 65536] = opened.read_batch(rows[start:start + 65536])[1].numpy()
            opened.check_finite(labels[start:start + 65536], first_row=start, missing=True)
        if labels.shape[1] != self.num_labels:
            raise D3UserError(f"{path}: split {split!r} has {labels.shape[1]} label column(s) but the model takes "
                              f"{self.num_labels}; use the data file the model was trained on (--data)")
        self.check_measured(labels, f"{path} ({split} split)", fix="give --labels instead")
        return labels, rows

    def check_measured(self, labels: np.ndarray, where: str, *, fix: str) -> None:
        """Refuse NaN (not measured) in ``labels [R, C]`` from ``where`` for a model without per-label nulls, in one
        line naming the labels and rows and ``fix``; a model with them conditions such a row on what it has."""
        from d3core.data.arrays import describe_missing_labels

        missing = describe_missing_labels(labels, self.label_names)
        if missing and not self.supports_label_subsets:
            raise D3UserError(f"{where} has missing labels (not measured: {missing}); {self.checkpoint} has no "
                              "per-label nulls (it was trained on fully measured rows), so it cannot condition a row "
                              f"on the labels it has: {fix}, or use a model trained on this data (d3 train learns a "
                              "null per label from missing labels)")

    # -- templates -------------------------------------------------------------------------------------------------
    def template(self, value: str | None = None, fixes: Sequence[str] = ()) -> Template | None:
        """A template from a sequence (``ACGTNN...``, N = free) or a FASTA file of them, plus ``--fix START:SEQ``
        segments (START counted from 1); None when neither is given."""
        template = None if value is None else template_parsing.parse_template(value, length=self.length)
        template = template_parsing.add_fixes(template, list(fixes), length=self.length)
        if template is not None:
            template_parsing.check_free_positions(template)
        return template

    def start_sequences(self, path: str | os.PathLike) -> Template:
        """Start sequences for variants (``--start-from``): a FASTA file (ACGTN; N positions start fully noised)."""
        return template_parsing.read_partial_fasta(path, length=self.length, what="--start-from")

    # -- sampling ----------------------------------------------------------------------------------------------------
    def metadata(self, **extra) -> dict[str, Any]:
        """The run facts every sample file carries; ``label_subsets`` (models with per-label nulls only): NaN in the
        file's labels means "that label unconditioned"."""
        subsets = {"label_subsets": True} if self.supports_label_subsets else {}
        return {"checkpoint": str(self.checkpoint), "checkpoint_format": self.checkpoint_format,
                "checkpoint_sha256": file_sha256(self.checkpoint), "checkpoint_step": self.step,
                "dataset": self.dataset_name, "data": _existing(self.data_path()),
                "arch": self.config.get("arch"), "length": self.length,
                "label_names": list(self.label_names), "d3core_version": d3core.__version__, **subsets, **extra}

    @property
    def sampling_config(self) -> dict[str, Any]:
        """The run's ``sampling.*`` section (empty for checkpoints without one)."""
        return dict(self.config.get("sampling") or {})

    @property
    def supports_label_subsets(self) -> bool:
        """The network has a learned null per label (``model.label_nulls``: trained on data with missing labels), so
        ``--labels`` may name a subset of the labels."""
        return wants_label_nulls(self.config)

    @property
    def supports_guidance(self) -> bool:
        """The network has a learned null condition (trained with ``training.label_dropout`` > 0)."""
        return has_null_condition(self.model)

    def resolve(self, options: SamplingOptions | None = None, **changes) -> SamplingOptions:
        """``options`` with every None filled in (flags > the run's ``sampling.*`` config > the original protocol),
        checked. Raises :class:`D3UserError` for a request the model cannot serve."""
        options = replace(options or SamplingOptions(), **changes)
        config = self.sampling_config
        start_at = options.start_at
        if start_at is None:
            start_at = 0.5 if options.start is not None else 1.0
        elif options.start is None:
            raise D3UserError("--start-at applies to --start-from: give the sequences to make variants of")
        if not 0 < float(start_at) <= 1:
            raise D3UserError(f"--start-at {start_at}: must be in (0, 1] (1 = from pure noise)")
        steps = options.steps if options.steps is not None else config.get("steps")
        if steps is None:
            steps = max(1, math.ceil(float(start_at) * self.length))
        guidance = float(options.guidance if options.guidance is not None else config.get("guidance", 1.0))
        self._check_guidance(guidance)
        for value in (options.template, options.start):
            if value is not None and value.length != self.length:
                raise D3UserError(f"{value.source}: {value.length} bp, but the model makes {self.length} bp sequences")
        precision = check_precision(options.precision) if options.precision else default_precision(
            self.device, self.recorded_precision)
        denoise = options.denoise if options.denoise is not None else bool(config.get("noise_removal", True))
        if int(steps) < 1 or options.batch_size < 1:
            raise D3UserError(f"--steps {steps} and --batch-size {options.batch_size} must be at least 1")
        return replace(options, steps=int(steps), predictor=check_predictor(options.predictor or config.get(
            "predictor") or "analytic"), denoise=bool(denoise), guidance=guidance, precision=precision,
            start_at=float(start_at))

    def _check_guidance(self, guidance: float) -> None:
        if guidance < 0:
            raise D3UserError(f"--guidance {guidance:g}: must be >= 0 (1 = plain conditional, 0 = unconditional)")
        if guidance == 1.0:
            return
        if not self.num_labels:
            raise D3UserError(f"--guidance {guidance:g}: {self.checkpoint} is an unconditional model; guidance "
                              "needs a model conditioned on labels")
        if not self.supports_guidance:
            raise D3UserError(f"--guidance {guidance:g}: {self.checkpoint} was trained without label dropout "
                              "(training.label_dropout=0), so it has no unconditional score to guide with; retrain "
                              "with training.label_dropout=0.1 (the default for new runs) or drop --guidance")

    def plan_rows(self, label_rows: np.ndarray | None, num: int,
                  options: SamplingOptions | None = None) -> tuple[np.ndarray | None, int]:
        """Check a request; return ``(label rows repeated num times [R*num, C] or None, number of sequences)``.

        Unconditional sampling of a conditional model (``options.guidance`` 0) needs no labels: it draws ``num``
        sequences. Templates and start sequences of ``options`` must have one row, or one per sequence.
        """
        labels, total = self._label_plan(label_rows, num, 1.0 if options is None else options.guidance)
        for name, value in (("--template", None if options is None else options.template),
                            ("--start-from", None if options is None else options.start)):
            if value is not None:
                value.check_designs(total, name)
        return labels, total

    def _label_plan(self, label_rows: np.ndarray | None, num: int, guidance: float) -> tuple[np.ndarray | None, int]:
        if num < 1:
            raise D3UserError(f"--num {num}: must be at least 1")
        if self.num_labels and (label_rows is None or len(label_rows) == 0):
            if guidance == 0.0:
                return None, num
            example = ",".join(f"{n}=1.0" for n in self.label_names)
            raise D3UserError(f"the model is conditioned on {', '.join(self.label_names)}: give --labels "
                              f"{example} (or a CSV of label rows), or --labels-from test")
        if not self.num_labels:
            return None, num
        rows = np.asarray(label_rows, dtype=np.float32).reshape(len(label_rows), -1)
        if rows.shape[1] != self.num_labels:
            raise D3UserError(f"label rows have {rows.shape[1]} column(s); the model takes {self.num_labels}")
        return label_parsing.expand(rows, num), rows.shape[0] * num

    def iter_samples(self, label_rows: np.ndarray | None = None, num: int = 1, *, shard: Shard | None = None,
                     on_step: Callable[[int, int], None] | None = None, resolved: SamplingOptions | None = None,
                     transition=None, synthesis_log: SynthesisLog | None = None, **options):
        """Yield ``(start, tokens [b, L], labels [b, C] | None)`` chunks of ``num`` sequences per label row; with
        ``shard`` only that shard's rows (``start`` counts from the shard's first row). ``resolved``: options
        already resolved with :meth:`resolve` (then ``options`` must be empty). ``transition``: a per-step hook
        replacing the draw (guided design, :mod:`d3core.design`).

        With ``resolved.rules``, every chunk's sequences that break a synthesis rule get the offending stretch
        redrawn by the model (in-fill, the same labels, guidance, template and transition), up to
        ``rules.attempts`` times; those still breaking one are yielded as they are and listed (by global index) in
        ``synthesis_log.failed``: callers leave them out of what they write."""
        resolved = resolved or self.resolve(SamplingOptions(**options))
        labels, total = self.plan_rows(label_rows, num, resolved)
        first, stop = shard.rows(total) if shard is not None else (0, total)
        rules = resolved.rules if resolved.rules is not None and resolved.rules.active else None
        for start, tokens in self._draw(labels, first, stop, resolved, _rows(resolved.template, slice(first, stop)),
                                        on_step=on_step, transition=transition):
            chunk_labels = None if labels is None else labels[first + start:first + start + len(tokens)]
            if rules is not None:
                tokens = self._enforce_rules(rules, tokens, labels, first + start, resolved, transition,
                                             synthesis_log if synthesis_log is not None else SynthesisLog())
            yield start, tokens, chunk_labels

    def _draw(self, labels: np.ndarray | None, first: int, stop: int, resolved: SamplingOptions,
              template: Template | None, *, on_step=None, transition=None):
        """``(start, tokens)`` chunks of sequences ``first .. stop - 1`` (``labels``: all rows' labels or None)."""
        model_labels = labels
        if labels is None and resolved.guidance == 0.0 and self.num_labels:  # null rows: the values are ignored
            model_labels = np.zeros((stop, self.num_labels), dtype=np.float32)
        part = slice(first, stop)
        yield from iter_chunks(
            self.model, self.graph, self.noise, length=self.length, num=stop - first,
            labels=None if model_labels is None else model_labels[part], steps=resolved.steps,
            predictor=resolved.predictor, batch_size=resolved.batch_size, seed=resolved.seed,
            device=self.device, precision=resolved.precision, denoise=resolved.denoise, first_index=first,
            guidance=resolved.guidance, template=template, start=_rows(resolved.start, part),
            start_at=resolved.start_at, on_step=on_step, transition=transition)

    def _enforce_rules(self, rules: SynthesisRules, tokens: np.ndarray, labels: np.ndarray | None, first: int,
                       resolved: SamplingOptions, transition, log: SynthesisLog) -> np.ndarray:
        """Tokens ``[b, L]`` of sequences ``first ..`` with every stretch that breaks ``rules`` redrawn by the
        model (see :meth:`iter_samples`); a redraw is kept when it lowers the row's penalty."""
        tokens = np.array(tokens, copy=True)
        fixed = None
        if resolved.template is not None:
            fixed = resolved.template.select(first, first + len(tokens)).known
            fixed = np.broadcast_to(fixed, tokens.shape)
        penalty = rules.penalty(tokens)
        log.redrawn += int((penalty > 0).sum())
        for attempt in range(1, rules.attempts + 1):
            failing = np.flatnonzero(penalty > 0)
            if not len(failing):
                break
            masks = np.stack([rules.redraw_mask(tokens[[i]], None if fixed is None else fixed[[i]],
                                                np.random.default_rng([resolved.seed, first + int(i), attempt]))[0]
                              for i in failing])
            keep = masks.any(axis=1)  # rows whose broken rules all lie in fixed positions cannot change
            failing, masks = failing[keep], masks[keep]
            if not len(failing):
                break
            again = replace(resolved, seed=resolved.seed + SEED_STRIDE * attempt, start=None, start_at=1.0)
            for lo, hi in _runs_of(failing):
                infill = Template(tokens[lo:hi], ~masks[np.searchsorted(failing, lo):np.searchsorted(failing, hi)],
                                  "in-fill")
                for offset, fresh in self._draw(labels, first + lo, first + hi, again, infill, transition=transition):
                    rows = np.arange(lo + offset, lo + offset + len(fresh))
                    new_penalty = rules.penalty(fresh)
                    better = new_penalty < penalty[rows]
                    tokens[rows[better]], penalty[rows[better]] = fresh[better], new_penalty[better]
            log.redraws += len(failing)
        for i in np.flatnonzero(penalty > 0):
            log.failed[first + int(i)] = rules.problems(tokens[[i]])[0]
        return tokens

    def sample(self, label_rows: np.ndarray | None = None, num: int = 1, *, source_rows: np.ndarray | None = None,
               reference_split: str | None = None, on_step: Callable[[int, int], None] | None = None,
               resolved: SamplingOptions | None = None, **options) -> SequenceSet:
        """``num`` sequences per label row, in memory, as a :class:`SequenceSet` (tokens ``[R * num, L]``)."""
        resolved = resolved or self.resolve(SamplingOptions(**options))
        parts, labels_out = [], []
        for _, tokens, labels in self.iter_samples(label_rows, num, on_step=on_step, resolved=resolved):
            parts.append(tokens)
            labels_out.append(labels)
        tokens = np.concatenate(parts) if parts else np.zeros((0, self.length), np.uint8)
        labels = None if not labels_out or labels_out[0] is None else np.concatenate(labels_out)
        rows = None if source_rows is None else np.repeat(np.asarray(source_rows, np.int64), num)
        meta = self.metadata(**resolved.describe(), device=self.device, num_per_row=num,
                             reference_split=reference_split)
        return SequenceSet(tokens, labels, list(self.label_names), rows, meta, np.arange(len(tokens)))

    def sample_to_file(self, path: str | os.PathLike, label_rows: np.ndarray | None = None, num: int = 1, *,
                       source_rows: np.ndarray | None = None, reference_split: str | None = None,
                       shard: Shard | None = None, overwrite: bool = False,
                       on_step: Callable[[int, int], None] | None = None, extra_metadata: dict | None = None,
                       resolved: SamplingOptions | None = None, **options) -> dict[str, Any]:
        """Stream the sequences into ``path`` (format from the extension; atomic). Returns a summary dict.

        With ``shard``, only that shard's rows are drawn (their ids and metadata say which rows; join the shard
        files with :func:`d3core.generation.shards.merge_shards`, ``d3 merge``).
        """
        resolved = resolved or self.resolve(SamplingOptions(**options))
        _, total = self.plan_rows(label_rows, num, resolved)
        first, stop = shard.rows(total) if shard is not None else (0, total)
        rows = None if source_rows is None else np.repeat(np.asarray(source_rows, np.int64), num)[first:stop]
        sharding = {} if shard is None else {"shard": {"index": shard.index, "count": shard.count},
                                             "first_index": first, "total": total}
        meta = self.metadata(**resolved.describe(), device=self.device, num_per_row=num,
                             reference_split=reference_split, **sharding, **(extra_metadata or {}))
        started = time.perf_counter()
        count, log = 0, SynthesisLog()
        with SequenceWriter(path, self.label_names, meta, overwrite=overwrite, first_index=first) as writer:
            for start, tokens, labels in self.iter_samples(label_rows, num, shard=shard, on_step=on_step,
                                                           resolved=resolved, synthesis_log=log):
                keep = log.written(first + start, len(tokens))
                if not keep.any():
                    continue
                chunk_rows = None if rows is None else rows[start:start + len(tokens)][keep]
                writer.write(tokens[keep], None if labels is None else labels[keep], chunk_rows)
                count += int(keep.sum())
        seconds = time.perf_counter() - started
        return {"path": Path(path), "num": count, "total": total, "first_index": first, "seconds": seconds,
                "per_second": count / max(seconds, 1e-9), "options": resolved, "device": self.device,
                "synthesis": log}


def _runs_of(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted row indices -> ``[(first, stop)]`` of their consecutive runs."""
    runs: list[tuple[int, int]] = []
    for row in rows.tolist():
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs


def _rows(template: Template | None, part: slice) -> Template | None:
    return None if template is None else template.select(part.start, part.stop)


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
