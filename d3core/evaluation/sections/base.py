"""What every section of ``d3 evaluate`` is (:class:`Section`) and what the sections of one evaluation share
(:class:`Run`: the sequences, the oracle, the cache, and the metrics, notes and plots they add to)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from d3core.errors import D3UserError
from d3core.evaluation.protocols import Protocol
from d3core.evaluation.reference_cache import ReferenceCache, oracle_digest

#: a metric's standard error from --reference-rows subsampling: metrics[name + SE_SUFFIX]
SE_SUFFIX = "_subsample_se"
#: said of a metric whose value means most beside the real sequences' (a ``directions`` entry)
COMPARE = "(compare with the reference's)"


@dataclass
class Run:
    """What the sections of one evaluation share.

    ``gen [N, L]`` uint8 tokens of the generated set; ``ref_tokens [M, L]``/``ref_labels [M, C]`` the reference rows
    distributions are compared with (a ``--reference-rows`` subset of ``all_ref_tokens``/``all_ref_labels``, or all
    of them); ``train`` the dataset's training split (read on demand). The inputs that pick sections (``oracle``,
    ``discriminator``, ``likelihood_model``, ``draw_plots``) and the options of single sections
    (``activity_thresholds``, ``attribution_label``, ``likelihood_samples``) are as
    :func:`~d3core.evaluation.report.evaluate_samples` got them.
    Sections add to ``metrics`` (flat name -> value, in the order of ``metrics.json``), ``notes``, ``plots`` (key ->
    PNG file name), ``groups`` (the conditioning table), ``timings`` (seconds per section) and ``extra`` (what one
    section leaves for a later one; ``extra["inputs"]`` is merged into ``metrics.json``'s ``inputs``).
    """

    protocol: Protocol
    dataset: Any
    data_path: Path
    reference: str
    samples: Any
    gen: np.ndarray
    ref_tokens: np.ndarray
    ref_labels: np.ndarray
    train: Any
    oracle: Any
    device: str
    seed: int
    say: Callable[[str], None]
    progress: bool
    out_dir: Path
    cache: ReferenceCache
    discriminator: bool = True
    draw_plots: bool = True
    activity_thresholds: Mapping[str, float] = field(default_factory=dict)
    attribution_label: str | None = None
    likelihood_model: Any = None
    likelihood_samples: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    plots: dict[str, str] = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the whole reference split when ``ref_tokens``/``ref_labels`` are a ``--reference-rows`` subset of it
    all_ref_tokens: np.ndarray | None = None
    all_ref_labels: np.ndarray | None = None
    _train_labels: np.ndarray | None = None

    def __post_init__(self):
        if self.all_ref_tokens is None:
            self.all_ref_tokens, self.all_ref_labels = self.ref_tokens, self.ref_labels

    @property
    def subsampled(self) -> bool:
        """Whether distributions are compared against a subset of the reference rows."""
        return len(self.ref_tokens) < len(self.all_ref_tokens)

    def subsampling_se(self, name: str, metric: Callable[[np.ndarray], float]) -> None:
        """Record ``<name>_subsample_se``: the standard error ``metrics[name]`` owes to ``--reference-rows``
        (``metric(rows)``: the figure on reference rows ``rows`` of the subset), if the reference is subsampled."""
        if self.subsampled and self.metrics.get(name) is not None:
            from d3core.evaluation.subsampling import subsampling_se

            self.metrics[f"{name}{SE_SUFFIX}"] = subsampling_se(metric, len(self.ref_tokens),
                                                                  len(self.all_ref_tokens), seed=self.seed)

    @contextmanager
    def timed(self, name: str):
        """``timings[name]``: the seconds the block took (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 3)

    def bar(self, total: int, desc: str):
        """A tqdm progress bar over ``total`` sequences on stderr, silent unless ``progress``."""
        from tqdm import tqdm

        return tqdm(total=total, desc=f"d3: {desc}", unit="seq", leave=False, disable=not self.progress)

    def train_labels(self) -> np.ndarray:
        """Every training row's measured labels ``[T, C]`` (read once)."""
        if self._train_labels is None:
            self._train_labels = read_rows(self.train, np.arange(len(self.train)))[1]
        return self._train_labels

    def train_tokens(self, rows: np.ndarray) -> np.ndarray:
        """The training sequences at ``rows``: ``[len(rows), L]`` uint8 tokens."""
        return read_rows(self.train, rows)[0]

    def top_rows(self) -> dict[str, np.ndarray]:
        """Per label: the training rows of the top :attr:`Protocol.top_fraction` by measured activity (>= 1 row)."""
        if "top_rows" not in self.extra:
            labels = self.train_labels()
            n_top = max(1, int(round(self.protocol.top_fraction * len(labels))))
            names = self.dataset.label_names_in(self.data_path)
            self.extra["top_rows"] = {name: np.sort(np.argsort(labels[:, c], kind="stable")[-n_top:])
                                      for c, name in enumerate(names) if c < labels.shape[1]}
        return self.extra["top_rows"]

    def oracle_key(self) -> dict[str, str]:
        """The part of a cache key that names the oracle (its content) and the device it ran on."""
        if "oracle_key" not in self.extra:
            self.extra["oracle_key"] = {"oracle": oracle_digest(self.oracle), "device": str(self.device)}
        return self.extra["oracle_key"]

    def optional(self, what: str, exc: D3UserError) -> None:
        """A missing optional library: an error under a strict protocol, else a note."""
        if self.protocol.strict_extras:
            raise exc
        self.notes.append(f"{what} skipped: {exc}")


def read_rows(split, rows: np.ndarray, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens [len(rows), L] uint8, labels [len(rows), C])`` of a dataset split, read ``chunk`` rows at a time."""
    tokens, labels = [], []
    for s in range(0, len(rows), chunk):
        t, y = split.read_batch(rows[s:s + chunk])
        tokens.append(t.numpy().astype(np.uint8))
        labels.append(y.numpy())
    if not tokens:
        return np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.float32)
    return np.concatenate(tokens), np.concatenate(labels)


def _always(run: Run) -> bool:
    return True


def _no_note(run: Run) -> str | None:
    return None


def _no_lines(run: Run) -> list[str]:
    return []


@dataclass(frozen=True)
class Section:
    """One section of ``d3 evaluate``: a group of metrics computed together.

    ``name``: its key in ``inputs.timings`` (seconds). ``compute(run)``: adds its metrics to ``run.metrics`` (and
    notes, plots, ``run.extra``). ``directions``: which direction is better for each metric it yields, shown in
    report.md's metrics table; a key ending in ``*`` is a name prefix (``"ks_*"``), exact names win over prefixes.
    ``applies(run)``: whether it runs for these inputs; ``skipped_note(run)``: the note when it does not (None: no
    note). ``render(run)``: markdown lines it adds to report.md after the metrics table (once every section
    has computed).
    """

    name: str
    compute: Callable[[Run], None]
    directions: Mapping[str, str] = field(default_factory=dict)
    applies: Callable[[Run], bool] = _always
    skipped_note: Callable[[Run], str | None] = _no_note
    render: Callable[[Run], list[str]] = _no_lines
