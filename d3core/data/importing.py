"""Import sequences and activities from FASTA + activity tables or CSV/TSV tables into a dataset's HDF5 layout.

Inputs (each may be prefixed with a split, ``train=``, ``valid=``/``val=``, ``test=``; gzip-compressed files are read
too):

- ``fasta`` + ``activity``: FASTA records and a table with one row per record, in the same order (the Stark lab
  ``Sequences_Train.fa`` + ``Sequences_activity_Train.txt``); the i-th FASTA of a split pairs with its i-th table;
- ``tables``: CSV/TSV files with a sequence column (``seq``/``sequence``) and activity columns.

Several inputs of the same split are joined on the sequence, which is how one-activity-per-file tables (a HepG2 and a
WTC11 table, a dev and a hk table) become one multi-label dataset. The default ``outer`` join keeps every row (the
union of the sequences): a label an input does not measure is missing, NaN in the label array, and the file records
how many rows each label has measured (:data:`MEASURED_ATTR`). ``inner`` keeps only the sequences in every input and
says how many rows it dropped.

Which column is which label: ``--label NAME=COLUMN`` or ``--label NAME=FILE:COLUMN``; otherwise the dataset's known
column names (``column_aliases``, e.g. ``Dev_log2_enrichment`` or ``actual_dev`` -> ``dev``); otherwise a table with a
single numeric column whose file name contains exactly one label name (``..._HepG2_...tsv`` + ``mean_value`` ->
``HepG2``).

Sequences of length ``L + left + right`` lose ``left``/``right`` adapter bases (lentiMPRA: 230 -> 200 bp); letters
other than ACGT follow the ``replace_n`` policy of :mod:`d3core.data.encoding`. Without split prefixes the rows are
split at random (``split_seed``, fractions 0.8/0.1/0.1), keeping a sequence and its reverse complement in the same
split; with prefixes a missing valid or test split is carved out of train the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from d3core.data.encoding import canonical, encode
from d3core.data.layout import MEASURED_ATTR, SPLITS, SPLIT_ALIASES
from d3core.data.readers import read_delimited, read_fasta_records
from d3core.errors import D3UserError

SEQUENCE_COLUMNS = ("seq", "sequence", "sequences", "dna", "seqs")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
JOINS = ("outer", "inner")
DEFAULT_JOIN = "outer"


@dataclass
class Source:
    """Rows read from one input: sequences, their line numbers, and the other columns as text."""

    path: Path
    sequences: list[str]
    lines: list[int]
    columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.path)


def parse_input_spec(text: str) -> tuple[str | None, Path]:
    """``"train=a.fa"`` -> ``("train", Path("a.fa"))``; ``"a.fa"`` -> ``(None, Path("a.fa"))``."""
    head, sep, tail = str(text).partition("=")
    if sep and head.strip().lower() in SPLIT_ALIASES:
        return SPLIT_ALIASES[head.strip().lower()], Path(tail)
    return None, Path(text)


def parse_label_spec(text: str) -> tuple[str, str | None, str]:
    """``"dev=actual_dev"`` -> ``("dev", None, "actual_dev")``; ``"HepG2=f.tsv:mean_value"`` -> file ``f.tsv``."""
    label, sep, rest = str(text).partition("=")
    if not sep or not label.strip() or not rest.strip():
        raise D3UserError(f"--label {text!r}: expected NAME=COLUMN or NAME=FILE:COLUMN, e.g. --label dev=actual_dev")
    file, colon, column = rest.rpartition(":")
    return label.strip(), (file.strip() if colon and file.strip() else None), column.strip()


def read_fasta(path: str | Path) -> Source:
    """FASTA records (multi-line sequences allowed) -> :class:`Source` with an ``id`` column."""
    path = Path(path)
    records = read_fasta_records(path)
    if not records:
        raise D3UserError(f"{path}: no FASTA records (lines starting with '>') found")
    return Source(path, [r.sequence for r in records], [r.line for r in records], {"id": [r.id for r in records]})


def read_table(path: str | Path, *, sequence_column: str | None = None, need_sequences: bool = True) -> Source:
    """A CSV/TSV table (delimiter from the header line: tab if present, else comma) -> :class:`Source`.

    The sequence column is ``sequence_column`` or the first of :data:`SEQUENCE_COLUMNS` (case-insensitive).
    """
    path = Path(path)
    rows = read_delimited(path)
    if not rows:
        raise D3UserError(f"{path}: empty file (expected a header line with column names)")
    header, rows = rows[0][1], rows[1:]
    seq_col = None
    if need_sequences:
        lower = {h.lower(): h for h in header}
        if sequence_column is not None:
            if sequence_column not in header:
                raise D3UserError(f"{path}: no column {sequence_column!r} (columns: {', '.join(header)})")
            seq_col = sequence_column
        else:
            seq_col = next((lower[c] for c in SEQUENCE_COLUMNS if c in lower), None)
            if seq_col is None:
                raise D3UserError(f"{path}: no sequence column (looked for {', '.join(SEQUENCE_COLUMNS)}; columns: "
                                  f"{', '.join(header)}); rename it or pass --seq-column NAME")
    columns: dict[str, list[str]] = {h: [] for h in header}
    for lineno, row in rows:
        if len(row) != len(header):
            raise D3UserError(f"{path} line {lineno}: {len(row)} fields, the header has {len(header)}; "
                              "fix the row (quote fields that contain the delimiter)")
        for h, value in zip(header, row):
            columns[h].append(value)
    sequences = [s.upper() for s in columns.pop(seq_col)] if seq_col else []
    return Source(path, sequences, [lineno for lineno, _ in rows], columns)


def _numeric(values: Sequence[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def _column_values(source: Source, column: str, label: str) -> np.ndarray:
    out = np.empty(len(source.sequences), dtype=np.float64)
    for i, value in enumerate(source.columns[column]):
        try:
            out[i] = float(value)
        except ValueError:
            out[i] = np.nan
        if not np.isfinite(out[i]):
            raise D3UserError(f"{source.path} line {source.lines[i]}: column {column!r} (label {label!r}) is "
                              f"{value!r}; labels must be finite numbers; fix or drop that row")
    return out


def _file_matches(spec_file: str, path: Path) -> bool:
    spec = Path(spec_file)
    return spec.name == path.name if len(spec.parts) == 1 else spec.resolve() == path.resolve()


def select_labels(source: Source, *, label_names: Sequence[str], aliases: Mapping[str, Sequence[str]],
                  specs: Sequence[tuple[str, str | None, str]], used_specs: set[int]) -> dict[str, np.ndarray]:
    """Pick the label columns of one input (see the module docstring for the rules)."""
    chosen: dict[str, str] = {}
    for i, (label, file, column) in enumerate(specs):
        if file is not None and not _file_matches(file, source.path):
            continue
        if column in source.columns:
            chosen[label] = column
            used_specs.add(i)
        elif file is not None:
            raise D3UserError(f"--label {label}={file}:{column}: {source.path} has no column {column!r} "
                              f"(columns: {', '.join(source.columns)})")
    if not chosen:
        lower = {c.lower(): c for c in source.columns}
        for label in label_names:
            for candidate in (label, *aliases.get(label, ())):
                if candidate.lower() in lower:
                    chosen[label] = lower[candidate.lower()]
                    break
    if not chosen:
        numeric = [c for c, v in source.columns.items() if c.lower() not in ("id", "seq_id", "name")
                   and _numeric(v) is not None]
        stem = source.path.name.lower()
        named = [label for label in label_names if label.lower() in stem]
        if len(numeric) == 1 and len(named) == 1:
            chosen[named[0]] = numeric[0]
    if not chosen:
        raise D3UserError(
            f"{source.path}: cannot tell which column holds which label (columns: {', '.join(source.columns) or 'none'}"
            f"; labels: {', '.join(label_names)}); pass --label NAME=COLUMN (or NAME=FILE:COLUMN)")
    return {label: _column_values(source, column, label) for label, column in chosen.items()}


@dataclass
class Part:
    """Labelled sequences of one split before encoding (after joining its inputs)."""

    sequences: list[str]
    labels: dict[str, np.ndarray]
    origin: list[tuple[str, int]]  # (file, line) of every row, for error messages


def _first_rows(source: Source, report: list[str]) -> dict[str, int]:
    """``{sequence: row of its first occurrence}`` of one input; reports duplicates (only the first is kept)."""
    seen: dict[str, int] = {}
    for i, s in enumerate(source.sequences):
        seen.setdefault(s, i)
    if len(seen) < len(source.sequences):
        report.append(f"{source.path}: {len(source.sequences) - len(seen)} duplicate sequence(s); kept the first")
    return seen


def join_sources(sources: Sequence[tuple[Source, dict[str, np.ndarray]]], report: list[str],
                 how: str = DEFAULT_JOIN) -> Part:
    """Join labelled inputs on the sequence (``how``: ``outer`` = every sequence of any input, NaN for the labels of
    the inputs that lack it; ``inner`` = the sequences of the first input found in every other), in the order of the
    first input, then (outer) the new sequences of each further input in its order."""
    first, first_labels = sources[0]
    if len(sources) == 1:
        return Part(list(first.sequences), dict(first_labels), [(first.name, ln) for ln in first.lines])
    labels: dict[str, list[float]] = {}
    for source, source_labels in sources:
        for label in source_labels:
            if label in labels:
                raise D3UserError(f"label {label!r} is given by more than one input of the same split "
                                  f"(again in {source.path}); map each label once with --label")
            labels[label] = []
    names = ", ".join(str(s.path.name) for s, _ in sources)
    if how == "inner":
        return _inner_join(sources, labels, report, names)
    rows: dict[str, int] = {}  # sequence -> output row
    keep_seq: list[str] = []
    origin: list[tuple[str, int]] = []
    hits: list[dict[int, int]] = []  # per input: output row -> its row
    for source, _ in sources:
        hit: dict[int, int] = {}
        for seq, i in _first_rows(source, report).items():
            if seq not in rows:
                rows[seq] = len(keep_seq)
                keep_seq.append(seq)
                origin.append((source.name, source.lines[i]))
            hit[rows[seq]] = i
        hits.append(hit)
    for (source, source_labels), hit in zip(sources, hits):
        for label, values in source_labels.items():
            column = np.full(len(keep_seq), np.nan)
            out_rows = np.fromiter(hit.keys(), dtype=np.int64, count=len(hit))
            column[out_rows] = values[np.fromiter(hit.values(), dtype=np.int64, count=len(hit))]
            labels[label] = column
    measured = ", ".join(f"{label} {int(np.isfinite(v).sum())}" for label, v in labels.items())
    common = sum(1 for r in range(len(keep_seq)) if all(r in h for h in hits))
    report.append(f"joined {names} on the sequence (outer join, the default): {len(keep_seq)} row(s), {common} "
                  f"measured in every input; measured per label: {measured}")
    return Part(keep_seq, {k: np.asarray(v) for k, v in labels.items()}, origin)


def _inner_join(sources: Sequence[tuple[Source, dict[str, np.ndarray]]], labels: dict[str, list[float]],
                report: list[str], names: str) -> Part:
    """The rows of the first input whose sequence every other input has (``--join inner``)."""
    first, first_labels = sources[0]
    index_maps = [_first_rows(source, report) for source, _ in sources[1:]]
    keep_seq: list[str] = []
    origin: list[tuple[str, int]] = []
    for i, seq in enumerate(first.sequences):
        hits = [m.get(seq) for m in index_maps]
        if any(h is None for h in hits):
            continue
        keep_seq.append(seq)
        origin.append((first.name, first.lines[i]))
        for label, values in first_labels.items():
            labels[label].append(values[i])
        for (source, source_labels), h in zip(sources[1:], hits):
            for label, values in source_labels.items():
                labels[label].append(values[h])
    total = sum(len(s.sequences) for s, _ in sources)
    report.append(f"joined {names} on the sequence (inner join): {len(keep_seq)} common row(s); dropped "
                  f"{total - len(keep_seq) * len(sources)} of {total} input row(s) not measured in every input "
                  "(--join outer keeps them, with missing labels)")
    if not keep_seq:
        raise D3UserError(f"the inputs {names} share no sequence; an inner join on the sequence leaves nothing. "
                          "Drop --join inner (the outer join keeps every row, with missing labels)")
    return Part(keep_seq, {k: np.asarray(v) for k, v in labels.items()}, origin)


def trim_and_check(part: Part, *, length: int, trim: tuple[int, int]) -> None:
    """Cut adapters from sequences of length ``length + left + right``; other lengths than ``length`` are errors."""
    left, right = trim
    raw = length + left + right
    for i, seq in enumerate(part.sequences):
        if len(seq) == length:
            continue
        if (left or right) and len(seq) == raw:
            part.sequences[i] = seq[left:len(seq) - right]
            continue
        file, line = part.origin[i]
        allowed = f"{length} bp" + (f" (or {raw} bp with {left}+{right} bp adapters)" if left or right else "")
        raise D3UserError(f"{file} line {line}: sequence has {len(seq)} bp, expected {allowed}; fix or drop that "
                          "row, or pass --trim LEFT,RIGHT for other adapters")


def random_split(sequences: Sequence[str], fractions: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Row indices per split; a sequence and its reverse complement always land in the same split."""
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or (fr < 0).any() or fr.sum() <= 0:
        raise D3UserError(f"split fractions {list(fractions)}: give three non-negative numbers (train,valid,test)")
    fr = fr / fr.sum()
    group_of: dict[str, int] = {}
    groups = np.array([group_of.setdefault(canonical(s), len(group_of)) for s in sequences], dtype=np.int64)
    n_groups = len(group_of)
    order = np.random.default_rng(seed).permutation(n_groups)
    counts = [int(math.floor(f * n_groups)) for f in fr]
    counts[0] = n_groups - counts[1] - counts[2]
    for k in (1, 2):  # no empty split when there is anything to split
        if fr[k] > 0 and counts[k] == 0 and counts[0] > 1:
            counts[k] += 1
            counts[0] -= 1
    bounds = np.cumsum([0] + counts)
    split_of_group = np.empty(n_groups, dtype=np.int64)
    for k in range(3):
        split_of_group[order[bounds[k]:bounds[k + 1]]] = k
    assigned = split_of_group[groups]
    return {name: np.nonzero(assigned == k)[0] for k, name in enumerate(SPLITS)}


@dataclass
class ImportResult:
    """Encoded splits ready to write: ``splits[split] = (tokens uint8 [N, L], labels float32 [N, C])`` (NaN: not
    measured, outer joins only)."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    label_names: list[str]
    report: list[str]
    source: dict

    @property
    def measured(self) -> dict[str, dict[str, int]] | None:
        """``{split: {label: rows measured}}`` when some label is missing somewhere (the :data:`MEASURED_ATTR` of the
        file), else None (every label measured in every row: the file is written as before)."""
        if not any(np.isnan(y).any() for _, y in self.splits.values()):
            return None
        return measured_counts({s: y for s, (_, y) in self.splits.items()}, self.label_names)


def measured_counts(labels: Mapping[str, np.ndarray], names: Sequence[str]) -> dict[str, dict[str, int]]:
    """``{split: labels [N, C]}`` -> ``{split: {label: rows whose value is not NaN}}``."""
    return {split: {name: int(n) for name, n in zip(names, (~np.isnan(y)).sum(axis=0))} for split, y in labels.items()}


def refuse_partial_tracks(where: str, label_mode: str, missing: str) -> None:
    """Refuse missing labels (``missing``: which, in words; ``""`` for none) for labels other than global ones, in one
    line: a per-position label track has no per-label null condition, so a row cannot condition on part of it."""
    if missing and label_mode != "global":
        raise D3UserError(f"{where} has missing labels ({missing}), which only global labels support; this dataset's "
                          f"labels are {label_mode} (a track per base: no learned null per label), so a row cannot "
                          "condition on part of them: import with --join inner (only the sequences every table "
                          "measures) or fill in the missing values")


def build_import(*, length: int, label_names: Sequence[str], aliases: Mapping[str, Sequence[str]],
                 fasta: Iterable[str] = (), activity: Iterable[str] = (), tables: Iterable[str] = (),
                 labels: Iterable[str] = (), split_seed: int | None = None,
                 fractions: Sequence[float] = DEFAULT_FRACTIONS, replace_n: str = "error",
                 trim: tuple[int, int] = (0, 0), sequence_column: str | None = None,
                 join: str = DEFAULT_JOIN) -> ImportResult:
    """Read, join (``join``: ``outer`` or ``inner``), trim, encode and split the inputs (see the module docstring).
    Nothing is written here."""
    if join not in JOINS:
        raise D3UserError(f"--join {join!r}: choose one of {', '.join(JOINS)} (default {DEFAULT_JOIN})")
    fasta, activity, tables = list(fasta), list(activity), list(tables)
    if not fasta and not tables:
        raise D3UserError("nothing to import: give --table FILE, or --fasta FILE with --activity FILE")
    if len(fasta) != len(activity):
        raise D3UserError(f"{len(fasta)} --fasta but {len(activity)} --activity file(s); give one activity table "
                          "per FASTA file (same split prefix, same order)")
    specs = [parse_label_spec(s) for s in labels]
    used_specs: set[int] = set()
    report: list[str] = []
    groups: dict[str | None, list[tuple[Source, dict[str, np.ndarray]]]] = {}

    fasta_by_split: dict[str | None, list[Path]] = {}
    activity_by_split: dict[str | None, list[Path]] = {}
    for spec in fasta:
        split, path = parse_input_spec(spec)
        fasta_by_split.setdefault(split, []).append(path)
    for spec in activity:
        split, path = parse_input_spec(spec)
        activity_by_split.setdefault(split, []).append(path)
    for split in set(fasta_by_split) | set(activity_by_split):
        fa, ac = fasta_by_split.get(split, []), activity_by_split.get(split, [])
        if len(fa) != len(ac):
            raise D3UserError(f"split {split or '(unsplit)'}: {len(fa)} --fasta but {len(ac)} --activity file(s); "
                              "pair each FASTA with its activity table using the same split prefix")
        for fa_path, ac_path in zip(fa, ac):
            records = read_fasta(fa_path)
            table = read_table(ac_path, need_sequences=False)
            if len(table.lines) != len(records.sequences):
                raise D3UserError(f"{ac_path} has {len(table.lines)} row(s) but {fa_path} has "
                                  f"{len(records.sequences)} record(s); the activity table needs one row per FASTA "
                                  "record, in the same order")
            table.sequences = [s.upper() for s in records.sequences]
            table.columns = {**{k: v for k, v in records.columns.items()}, **table.columns}
            chosen = select_labels(table, label_names=label_names, aliases=aliases, specs=specs,
                                   used_specs=used_specs)
            merged = Source(fa_path, table.sequences, records.lines, table.columns)
            groups.setdefault(split, []).append((merged, chosen))
    for spec in tables:
        split, path = parse_input_spec(spec)
        source = read_table(path, sequence_column=sequence_column)
        if not source.sequences:
            raise D3UserError(f"{path}: no data rows")
        chosen = select_labels(source, label_names=label_names, aliases=aliases, specs=specs, used_specs=used_specs)
        groups.setdefault(split, []).append((source, chosen))
    unused = [specs[i] for i in range(len(specs)) if i not in used_specs]
    if unused:
        label, file, column = unused[0]
        raise D3UserError(f"--label {label}={file + ':' if file else ''}{column}: no input has a column {column!r}")
    if None in groups and len(groups) > 1:
        raise D3UserError("some inputs have a split prefix (train=, valid=, test=) and some do not; prefix all of "
                          "them, or none (then the rows are split at random with --split-seed)")

    parts: dict[str | None, Part] = {}
    for split, sources in groups.items():
        part = join_sources(sources, report, join)
        trim_and_check(part, length=length, trim=trim)
        parts[split] = part
    label_sets = {split: sorted(p.labels) for split, p in parts.items()}
    reference = next(iter(label_sets.values()))
    for split, names in label_sets.items():
        if names != reference:
            raise D3UserError(f"splits have different labels ({', '.join(f'{s}: {n}' for s, n in label_sets.items())})"
                              "; every split needs the same label columns")
    order = [n for n in label_names if n in reference] + [n for n in reference if n not in label_names]

    rng = np.random.default_rng(0 if split_seed is None else split_seed)
    encoded: dict[str | None, tuple[np.ndarray, np.ndarray, list[str]]] = {}
    for split, part in parts.items():
        by_file: dict[str, list[int]] = {}
        for i, (file, _) in enumerate(part.origin):
            by_file.setdefault(file, []).append(i)
        tokens = np.empty((len(part.sequences), length), dtype=np.uint8)
        for file, idx in by_file.items():
            tokens[idx] = encode([part.sequences[i] for i in idx], length=length, replace_n=replace_n, rng=rng,
                                 source=file, rows=[part.origin[i][1] for i in idx], unit="line")
        y = np.stack([part.labels[name] for name in order], axis=1).astype(np.float32)
        encoded[split] = (tokens, y, part.sequences)

    seed = 0 if split_seed is None else int(split_seed)
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if None in encoded:
        tokens, y, seqs = encoded[None]
        index = random_split(seqs, fractions, seed)
        splits = {s: (tokens[index[s]], y[index[s]]) for s in SPLITS}
        report.append(f"random split (seed {seed}, fractions {list(fractions)}, reverse complements kept together)")
    else:
        if "train" not in encoded:
            raise D3UserError(f"no train=... input (given splits: {', '.join(sorted(encoded))}); the train split is "
                              "required, valid and test can be carved out of it")
        splits = {s: (t, y) for s, (t, y, _) in encoded.items()}
        missing = [s for s in SPLITS if s not in encoded]
        if missing:
            tokens, y, seqs = encoded["train"]
            fr = [1.0] + [0.1 if s in missing else 0.0 for s in SPLITS[1:]]
            fr[0] = 1.0 - sum(fr[1:])
            index = random_split(seqs, fr, seed)
            for s in SPLITS:
                if s == "train" or s in missing:
                    splits[s] = (tokens[index[s]], y[index[s]])
            report.append(f"{', '.join(missing)} carved out of train (10% each, seed {seed})")
    for s in SPLITS:
        if len(splits[s][0]) == 0:
            raise D3UserError(f"split {s!r} would be empty ({sum(len(t) for t, _ in splits.values())} row(s) in "
                              "all); import more rows, or give the splits explicitly with train=/valid=/test=")
    source = {"kind": "import", "fasta": fasta, "activity": activity, "tables": tables, "labels": list(labels),
              "split_seed": seed, "fractions": list(fractions), "replace_n": replace_n, "trim": list(trim)}
    if any(len(sources) > 1 for sources in groups.values()):
        source["join"] = join
    return ImportResult({s: splits[s] for s in SPLITS}, order, report, source)
