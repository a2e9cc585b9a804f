"""``d3 data``: get data in (fetch, import, synth) and look at it (info).

Heavy libraries (numpy, h5py, torch, pooch) are imported inside the commands, so building the CLI stays light.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from d3core.cli.app import D3Group, hold_output, manager_of
from d3core.cli.options import option
from d3core.cli.tables import format_table
from d3core.errors import D3UserError


def _dataset_by_name(name: str):
    """The dataset plugin object registered as ``name`` (``dist:name`` allowed)."""
    return manager_of(click.get_current_context()).dataset(name)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


@click.group(cls=D3Group)
def data() -> None:
    """Get sequence data in, and check it.

    \b
      d3 data fetch deepstarr                        the published file (cached, sha256-checked)
      d3 data synth deepstarr --n 2000 --out ds.h5   synthetic data from planted motifs
      d3 data import mpra --table train=a.tsv ... --out m.h5
      d3 data info ds.h5                             validate; splits, shapes, label statistics

    Files live in $D3_DATA_DIR (default: the user cache, ~/.cache/d3 on Linux) unless --out says otherwise.
    """


@data.command("fetch")
@click.argument("name")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Where to save the file (default: the dataset's file in $D3_DATA_DIR or the user cache, ~/.cache/d3 on Linux).")
@option("--sha256", default=None, help="Expected SHA-256 of the file (pins it; otherwise recorded at first download).")
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
def fetch_cmd(name: str, out: Path | None, sha256: str | None, no_progress: bool | None) -> None:
    """Download dataset NAME's published file (D3_DATA_URL overrides the URL)."""
    dataset = _dataset_by_name(name)
    path = dataset.fetch(out, sha256=sha256, progress=not no_progress, echo=click.echo)
    summary = dataset.validate(path)
    rows = ", ".join(f"{s} {v.rows}" for s, v in summary.splits.items())
    click.echo(f"{path}: valid {dataset.name} data ({rows} rows)")


@data.command("synth")
@click.argument("name")
@option("--n", "n", type=click.IntRange(min=1), default=None,
        help="Training rows (valid and test get max(4, ceil(n/10)) each). Default 2000.")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Output file (default: $D3_DATA_DIR/<name>-synth-n<N>-seed<S>.h5).")
@option("--seed", type=int, default=None, help="Random seed (default 0); the same seed writes the same file.")
@option("--x-dtype", type=click.Choice(["uint8", "float32"]), default=None,
        help="Storage type of the one-hot arrays (default uint8).")
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
def synth_cmd(name: str, n: int | None, out: Path | None, seed: int | None, x_dtype: str | None,
              force: bool | None) -> None:
    """Write a synthetic dataset NAME whose activities are a known function of planted TF motifs."""
    from d3core.data.base import data_dir
    from d3core.data.synth import FORMULA

    dataset = _dataset_by_name(name)
    n = 2000 if n is None else n
    seed = 0 if seed is None else seed
    out = hold_output(out or data_dir() / f"{dataset.name}-synth-n{n}-seed{seed}.h5", force=force, flag="--out")
    path = dataset.synthesize(out, n, seed=seed, x_dtype=x_dtype or "uint8", overwrite=bool(force), progress=True)
    summary = dataset.validate(path)
    click.echo(f"wrote {path}: " + ", ".join(f"{s} {v.rows}" for s, v in summary.splits.items()) + " rows")
    click.echo(f"labels {', '.join(summary.label_names)}: {FORMULA}")
    click.echo("motifs: " + "; ".join(
        f"{m.name} {m.consensus} (" + ", ".join(f"{k} {v:+g}" for k, v in m.effects.items()) + ")"
        for m in dataset.motifs))


def _parse_trim(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 0:
        raise D3UserError(f"--trim {text!r}: expected LEFT,RIGHT adapter lengths in bp, e.g. --trim 15,15")
    return parts[0], parts[1]


def _parse_fractions(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts) or sum(parts) <= 0:
        raise D3UserError(f"--split-fractions {text!r}: expected three numbers train,valid,test, e.g. 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]


@data.command("import")
@click.argument("name")
@option("--fasta", multiple=True, help="[SPLIT=]FASTA file; pair with --activity (repeatable).")
@option("--activity", multiple=True, help="[SPLIT=]activity table, one row per FASTA record (repeatable).")
@option("--table", multiple=True, help="[SPLIT=]CSV/TSV with a seq/sequence column and activity columns "
                                       "(repeatable; several per split are joined on the sequence).")
@option("--join", type=click.Choice(["outer", "inner"]), default=None,
        help="How several inputs of a split are joined on the sequence: 'outer' (default) keeps every row, a label "
             "an input does not measure is stored as missing (NaN, counted per label in the file); 'inner' keeps "
             "only the sequences measured in every input and says how many rows it dropped.")
@option("--label", multiple=True, help="NAME=COLUMN or NAME=FILE:COLUMN: which column holds label NAME (repeatable).")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Output HDF5 file.")
@option("--split-seed", type=int, default=None, help="Seed of the random train/valid/test split (default 0).")
@option("--split-fractions", default=None, help="train,valid,test fractions of a random split (default 0.8,0.1,0.1).")
@option("--replace-n", type=click.Choice(["error", "random"]), default=None,
        help="Letters other than ACGT: 'error' (default) names file and row; 'random' replaces them by random bases.")
@option("--trim", default=None, help="LEFT,RIGHT adapter bp cut from sequences of length L+LEFT+RIGHT "
                                     "(default: the dataset's, 15,15 for mpra).")
@option("--seq-column", default=None, help="Name of the sequence column (default: seq or sequence).")
@option("--x-dtype", type=click.Choice(["uint8", "float32"]), default=None,
        help="Storage type of the one-hot arrays (default uint8).")
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
def import_cmd(name: str, fasta: tuple[str, ...], activity: tuple[str, ...], table: tuple[str, ...],
               join: str | None, label: tuple[str, ...], out: Path | None, split_seed: int | None, split_fractions: str | None,
               replace_n: str | None, trim: str | None, seq_column: str | None, x_dtype: str | None,
               force: bool | None) -> None:
    """Import your own sequences and activities into dataset NAME's layout.

    \b
    Examples:
      d3 data import deepstarr --fasta train=Sequences_Train.fa --activity train=Sequences_activity_Train.txt \\
          --fasta valid=Sequences_Val.fa --activity valid=Sequences_activity_Val.txt \\
          --fasta test=Sequences_Test.fa --activity test=Sequences_activity_Test.txt --out DeepSTARR_data.h5
      d3 data import mpra --table lentimpra_val_HepG2.tsv --table lentimpra_val_WTC11.tsv --out m.h5 --split-seed 1

    Several tables of a split are joined on the sequence; the default outer join keeps every row and stores the
    labels a table does not measure as missing (--join inner keeps only rows measured in every table).
    """
    dataset = _dataset_by_name(name)
    if out is None:
        raise D3UserError("--out is required: the HDF5 file to write, e.g. --out data/my_dataset.h5")
    hold_output(out, force=force, flag="--out")
    result = dataset.import_files(out, fasta=fasta, activity=activity, tables=table, labels=label,
                                  split_seed=split_seed, fractions=_parse_fractions(split_fractions),
                                  replace_n=replace_n or "error", trim=_parse_trim(trim), sequence_column=seq_column,
                                  x_dtype=x_dtype or "uint8", overwrite=bool(force), join=join)
    for line in result.report:
        click.echo(line)
    rows = ", ".join(f"{s} {len(t)}" for s, (t, _) in result.splits.items())
    click.echo(f"wrote {out}: {rows} rows; labels {', '.join(result.label_names)}")


@data.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@option("--dataset", default=None, help="Dataset whose layout to check against (default: detected from the keys).")
@option("--full", is_flag=True, default=None, help="Check the one-hot values of every row (reads the whole file).")
@option("--json", "as_json", is_flag=True, default=None, help="Print the summary as JSON.")
def info_cmd(path: Path, dataset: str | None, full: bool | None, as_json: bool | None) -> None:
    """Validate the dataset file PATH and print its splits, shapes and label statistics."""
    if not path.exists():
        raise D3UserError(f"{path}: file not found")
    if dataset:
        ds = _dataset_by_name(dataset)
    else:
        from d3core.data.detect import detect_dataset

        ds = detect_dataset(path, manager_of(click.get_current_context()))
    summary = ds.validate(path, full=bool(full))
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
        return
    from d3core.data.fetch import human_size

    origin = "from the file" if summary.label_names_from_file else f"{ds.name} defaults"
    lines = [f"{path}  ({human_size(summary.size_bytes)})",
             f"dataset: {ds.name}   layout: {summary.layout}",
             f"labels:  {', '.join(summary.label_names)} ({origin})", ""]
    lines.append(format_table(("split", "rows", "X", "X dtype", "Y", "Y dtype"),
                        [(s, v.rows, v.x_shape, v.x_dtype, v.y_shape, v.y_dtype) for s, v in summary.splits.items()],
                                    rule=False))
    lines.append("")
    from d3core.data.validation import has_missing_labels

    missing = has_missing_labels(summary)  # then: rows measured per split and label; statistics over those rows
    stats = []
    for s, v in summary.splits.items():
        for i, label in enumerate(summary.label_names):
            counts = (f"{v.measured[i]}/{v.rows}",) if missing else ()
            stats.append((s, label, *counts, _fmt(v.label_mean[i]), _fmt(v.label_std[i]), _fmt(v.label_min[i]),
                          _fmt(v.label_max[i])))
    head = ("split", "label", *(("measured",) if missing else ()), "mean", "std", "min", "max")
    lines.append(format_table(head, stats, rule=False))
    if missing:
        lines.append("missing labels (NaN) are not measured; training conditions those rows on what was measured")
    checked = sum(v.checked_rows for v in summary.splits.values())
    total = sum(v.rows for v in summary.splits.values())
    unknown = sum(v.unknown_positions for v in summary.splits.values())
    scope = "all rows" if summary.full_check else f"{checked} of {total} rows (--full for all)"
    lines += ["", f"one-hot values checked on {scope}; N positions: {unknown}"
              + (" (replaced by random bases when read)" if unknown else "")]
    if summary.extra_keys:
        lines.append(f"other keys: {', '.join(summary.extra_keys)}")
    lines.append("valid: yes")
    click.echo("\n".join(lines))
