"""The dataset contract: :class:`SequenceDataset`, subclassed by every dataset plugin.

A plugin subclass states only layout facts (key names, channel order, length, labels, column names of its source
tables, adapters, motifs for synthesis, download URL); reading, validation, import, synthesis and fetching live here.
The registry factory is the class; the runner instantiates it without arguments::

    ds = get_registry("datasets").get("deepstarr").load()()
    path = ds.require(config.data.path)          # the file, or a D3UserError saying how to get it
    ds.validate(path)                            # FileSummary, or D3UserError
    train = ds.open_split(path, "train")         # torch Dataset of (tokens int64 [L], labels float32 [C])
    names = ds.label_names_in(path)              # the file's label names (its attribute) or the defaults
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping, Sequence

from d3core.errors import D3UserError

#: environment variable naming the data folder (default: the user cache folder ``d3``, see :func:`data_dir`)
DATA_DIR_ENV = "D3_DATA_DIR"
#: environment variable overriding the download URL of ``fetch`` (mirrors, tests)
DATA_URL_ENV = "D3_DATA_URL"


def data_dir() -> Path:
    """``$D3_DATA_DIR``, else the user cache folder ``d3`` (``pooch.os_cache``: ``~/.cache/d3`` on Linux, or
    ``$XDG_CACHE_HOME/d3`` when that is set; ``~/Library/Caches/d3`` on macOS; ``%LOCALAPPDATA%\\d3\\d3\\Cache`` on
    Windows)."""
    import pooch

    return Path(os.environ.get(DATA_DIR_ENV) or pooch.os_cache("d3")).expanduser()


class _classproperty:
    """A read-only property computed from the class (works on the class and on instances)."""

    def __init__(self, func):
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj, owner):
        return self.func(owner)


class SequenceDataset:
    """Base class of dataset plugins: fixed-length DNA sequences with per-sequence (global) labels in HDF5.

    Subclasses set the class attributes below; everything else is inherited.
    """

    # -- facts a plugin states ---------------------------------------------------------------------------------------
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    length: ClassVar[int] = 0
    label_names: ClassVar[tuple[str, ...]] = ()
    label_mode: ClassVar[str] = "global"
    #: HDF5 key templates and axis order
    x_key: ClassVar[str] = "X_{split}"
    y_key: ClassVar[str] = "Y_{split}"
    channels_first: ClassVar[bool] = True
    #: file name in the data folder, and where ``fetch`` downloads it from (``None``: not downloadable)
    filename: ClassVar[str] = ""
    url: ClassVar[str | None] = None
    sha256: ClassVar[str | None] = None
    approx_size: ClassVar[str] = ""
    #: source-table column names per label (import), e.g. ``{"dev": ("Dev_log2_enrichment", "actual_dev")}``
    column_aliases: ClassVar[Mapping[str, Sequence[str]]] = {}
    #: adapter bases cut from each end of sequences of ``length + left + right`` bp on import
    adapters: ClassVar[tuple[int, int]] = (0, 0)
    #: the library's construct: adapter sequences (ACGT) around every element, as ordered and cloned (lentiMPRA: the
    #: 15 bp adapters cut on import); ``d3 design --constructs`` writes them around designs, and the synthesis rules
    #: are checked on the whole construct. ``("", "")``: no fixed adapters declared.
    construct_flanks: ClassVar[tuple[str, str]] = ("", "")
    #: synthesis: motifs (:class:`d3core.data.synth.Motif`), label baselines, noise s.d., background GC content
    motifs: ClassVar[Sequence[Any]] = ()
    synth_baseline: ClassVar[Mapping[str, float]] = {}
    synth_noise: ClassVar[float] = 0.3
    gc_content: ClassVar[float] = 0.5
    #: evaluation: the JASPAR taxonomic group motifs are scanned from (``insects``, ``vertebrates``; None = all)
    jaspar_tax_group: ClassVar[str | None] = None

    # -- layout ------------------------------------------------------------------------------------------------------
    @property
    def layout(self):
        """The :class:`~d3core.data.layout.H5Layout` of this dataset's files."""
        from d3core.data.layout import H5Layout

        return H5Layout(self.x_key, self.y_key, self.channels_first, self.length)

    def cache_path(self) -> Path:
        """``<data dir>/<filename>`` (:func:`data_dir`: ``$D3_DATA_DIR``, default ``~/.cache/d3`` on Linux;
        ``<name>.h5`` without a ``filename``).

        The name comes from the plugin, so it must be a plain file name that stays in the data folder (no folder
        part, not absolute, not ``.``/``..``, no NUL); anything else is a :class:`D3UserError`, never a path outside.
        """
        name = self.filename or f"{self.name}.h5"
        folder = data_dir()
        real = folder.resolve()
        if (name in (".", "..") or "\0" in name or "/" in name or "\\" in name or Path(name).is_absolute()
                or (real / name).parent != real):
            raise D3UserError(f"dataset {self.name!r}: file name {name!r} is not a plain file name inside the data "
                              f"folder {folder}; the plugin must set 'filename' to a plain name such as "
                              f"'{self.name}.h5', or give the file explicitly (--out, --data)")
        return folder / name

    def default_path(self) -> Path:
        """Where the data file is expected: :meth:`cache_path` (a plugin may override this, e.g. with a fallback)."""
        return self.cache_path()

    @_classproperty
    def default_config(cls) -> dict[str, Any]:
        """Defaults the dataset contributes to the run configuration (a plain dict; readable on the class too).

        ``data.path: None`` means :meth:`default_path`.
        """
        return {"data": {"path": None}, "model": {"length": cls.length}}

    def missing_message(self, path: str | os.PathLike) -> str:
        """How to get the data, for a missing file."""
        fetch = f"'d3 data fetch {self.name}'" + (f" (the published data, {self.approx_size})" if self.approx_size
                                                  else "")
        return (f"{self.name} data not found at {path}. Get it with {fetch}, or 'd3 data import {self.name} ... "
                f"--out {path}' from your own files, or 'd3 data synth {self.name} --n 2000 --out {path}' "
                "(synthetic, for a quick test); or point --data / data.path at an existing file")

    def require(self, path: str | os.PathLike | None = None) -> Path:
        """``path`` (default: :meth:`default_path`) if it exists, else a :class:`D3UserError` saying how to get it."""
        resolved = Path(path).expanduser() if path is not None else self.default_path()
        if not resolved.exists():
            raise D3UserError(self.missing_message(resolved))
        return resolved

    # -- reading -----------------------------------------------------------------------------------------------------
    def validate(self, path: str | os.PathLike | None = None, *, full: bool = False,
                 splits: Sequence[str] | None = None):
        """Check the file; return a :class:`~d3core.data.validation.FileSummary` or raise :class:`D3UserError`.

        ``full=True`` checks the one-hot values of every row (reads the whole file); by default a sample.
        """
        from d3core.data.validation import validate_file

        resolved = self.require(path)
        return validate_file(resolved, self.layout, dataset=self.name, label_names=self.label_names, full=full,
                             splits=splits)

    def label_names_in(self, path: str | os.PathLike | None = None) -> list[str]:
        """Label names of a file: its ``label_names`` attribute, else this dataset's defaults."""
        from d3core.data.layout import open_h5, read_label_names

        with open_h5(self.require(path)) as f:
            return read_label_names(f) or list(self.label_names)

    def open_split(self, path: str | os.PathLike | None, split: str, *, seed: int = 0):
        """A lazily read split: ``torch.utils.data.Dataset`` of ``(tokens int64 [L], labels float32 [C])``.

        Cheap (opens the file only to read the row count); call :meth:`validate` once before training.
        """
        from d3core.data.h5dataset import H5SequenceDataset
        from d3core.data.layout import normalize_split, open_h5

        resolved = self.require(path)
        split = normalize_split(split)
        layout = self.layout
        with open_h5(resolved) as f:
            keys = set(f.keys())
        for key in (layout.x_name(split), layout.y_name(split)):
            if key not in keys:
                raise D3UserError(f"{resolved}: missing key '{key}' for split '{split}' (file has: "
                                  f"{', '.join(sorted(keys))}); run 'd3 data info {resolved}' to see what it holds")
        return H5SequenceDataset(resolved, layout, split, self.label_names_in(resolved), seed=seed)

    # -- making files ------------------------------------------------------------------------------------------------
    def synthesize(self, out: str | os.PathLike, n: int, *, seed: int = 0, x_dtype: str = "uint8",
                   overwrite: bool = False, progress: bool = False) -> Path:
        """Write a synthetic file: ``n`` training rows (valid/test ``max(4, ceil(n/10))`` each) in this layout.

        Activities are a linear function of planted motif counts plus noise (:mod:`d3core.data.synth`).
        """
        from d3core.data.synth import synthesize_file

        if not self.motifs:
            raise D3UserError(f"dataset {self.name!r} defines no motifs to synthesize data with")
        return synthesize_file(out, dataset=self.name, layout=self.layout, label_names=self.label_names,
                               motifs=self.motifs, baseline=self.synth_baseline, noise=self.synth_noise,
                               gc=self.gc_content, n_train=n, seed=seed, x_dtype=x_dtype, overwrite=overwrite,
                               progress=progress)

    def import_files(self, out: str | os.PathLike, *, fasta: Iterable[str] = (), activity: Iterable[str] = (),
                     tables: Iterable[str] = (), labels: Iterable[str] = (), split_seed: int | None = None,
                     fractions: Sequence[float] | None = None, replace_n: str = "error",
                     trim: tuple[int, int] | None = None, sequence_column: str | None = None,
                     x_dtype: str = "uint8", overwrite: bool = False, join: str | None = None):
        """Import FASTA + activity or CSV/TSV inputs into ``out`` (see :mod:`d3core.data.importing`).

        Returns the :class:`~d3core.data.importing.ImportResult` (its ``report`` lists joins and splits). Labels an
        outer ``join`` (the default) leaves unmeasured are NaN, counted per split and label in the file's
        ``d3_measured`` attribute.
        """
        from d3core.data.importing import (DEFAULT_FRACTIONS, DEFAULT_JOIN, MEASURED_ATTR, build_import,
                                           refuse_partial_tracks)
        from d3core.data.layout import H5Writer

        out = Path(out)
        if out.exists() and not overwrite:
            raise D3UserError(f"{out}: already exists; choose another --out or pass --force to replace it")
        result = build_import(length=self.length, label_names=self.label_names, aliases=self.column_aliases,
                              fasta=fasta, activity=activity, tables=tables, labels=labels, split_seed=split_seed,
                              fractions=fractions or DEFAULT_FRACTIONS, replace_n=replace_n,
                              trim=self.adapters if trim is None else tuple(trim), sequence_column=sequence_column,
                              join=join or DEFAULT_JOIN)
        if result.measured is not None:
            rows = sum(len(y) for _, y in result.splits.values())
            measured = ", ".join(f"{name} {sum(m[name] for m in result.measured.values())}/{rows}"
                                 for name in result.label_names)
            refuse_partial_tracks(f"{out}: the {join or DEFAULT_JOIN} join of the inputs", self.label_mode,
                                  f"measured: {measured}")
        attrs = {"d3_dataset": self.name, "d3_source": result.source}
        if result.measured is not None:
            attrs[MEASURED_ATTR] = result.measured
        with H5Writer(out, self.layout, result.label_names, attrs=attrs, x_dtype=x_dtype,
                      overwrite=overwrite) as writer:
            for split, (tokens, y) in result.splits.items():
                writer.write_split(split, tokens, y)
        return result

    def fetch(self, dest: str | os.PathLike | None = None, *, url: str | None = None, sha256: str | None = None,
              progress: bool = True, echo=print) -> Path:
        """Download the published file to ``dest`` (default :meth:`cache_path`, always in the data folder); validate it.

        The URL is ``url``, else ``$D3_DATA_URL``, else the plugin's. The hash is ``sha256``, else the plugin's pinned
        one, else the one recorded at the first download. A download that is not valid data is deleted.
        """
        from d3core.data.fetch import discard, download

        source = url or os.environ.get(DATA_URL_ENV) or self.url
        if not source:
            raise D3UserError(f"dataset {self.name!r} has no download URL; set {DATA_URL_ENV} to one, or use "
                              f"'d3 data import {self.name} ...'")
        target = Path(dest).expanduser() if dest is not None else self.cache_path()
        existed = target.exists()
        path, _ = download(source, target, sha256=sha256 or self.sha256, progress=progress, echo=echo)
        try:
            self.validate(path)
        except D3UserError as exc:
            if not existed:
                discard(path)
                raise D3UserError(f"the file downloaded from {source} is not valid {self.name} data and was "
                                  f"deleted: {exc}") from exc
            raise
        return path

    def __repr__(self) -> str:
        return f"<dataset {self.name}: L={self.length}, labels={list(self.label_names)}, {self.layout.describe()}>"
