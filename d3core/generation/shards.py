"""Many processes, one design set: ``d3 sample --shard K/N`` draws a contiguous share of the rows; ``d3 merge`` joins.

The sampler's noise is counter-based (sequence ``i`` depends on ``(seed, i)`` only), so shard K of N drawing the global
rows ``[start_K, stop_K)`` gives exactly the tokens the single-process run gives those rows, and the merged shards are
that run's output. Shard K of N of ``T`` rows is ``np.array_split(range(T), N)[K - 1]``.

Under ``torchrun`` (``RANK`` / ``WORLD_SIZE``) or ``srun`` (``SLURM_PROCID`` / ``SLURM_STEP_NUM_TASKS``) the shard comes
from the launcher's rank variables when ``--shard`` is not given; ``--shard 1/1`` turns that off. Shard files are named
``<stem>.shard<K>of<N><suffix>`` beside the requested output (``designed.fasta`` -> ``designed.shard1of4.fasta``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from d3core.errors import D3UserError

#: metadata keys that differ between the shards of one design set (dropped from the merged file)
SHARD_KEYS = ("shard", "first_index", "num", "seconds", "per_second")
#: metadata keys that may differ between shards (where each process ran); the merged file keeps the first's
MAY_DIFFER = ("device", "checkpoint", "data", "labels_source")
_SHARD_NAME = re.compile(r"\.shard(\d+)of(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``; ``source`` says where it came from (for messages)."""

    index: int
    count: int
    source: str = "--shard"

    def rows(self, total: int) -> tuple[int, int]:
        """``(start, stop)``: this shard's contiguous share of ``total`` rows."""
        base, extra = divmod(int(total), self.count)
        start = (self.index - 1) * base + min(self.index - 1, extra)
        return start, start + base + (1 if self.index <= extra else 0)

    def path(self, out: str | os.PathLike) -> Path:
        """The shard's own file beside ``out``: ``designed.fasta`` -> ``designed.shard2of4.fasta``."""
        out = Path(out)
        return out.with_name(f"{out.stem}.shard{self.index}of{self.count}{out.suffix}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"K/N"`` with 1 <= K <= N -> :class:`Shard`."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise D3UserError(f"--shard {text!r}: expected K/N, e.g. --shard 1/4 (shard 1 of 4)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise D3UserError(f"--shard {text!r}: K must be between 1 and N (shards are counted from 1)")
    return Shard(index, count)


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name, "").strip()
    return int(value) if value.isdigit() else None


def shard_from_environment(env: Mapping[str, str] | None = None) -> Shard | None:
    """The shard of this process when started by ``torchrun`` or ``srun`` with more than one process, else None."""
    env = os.environ if env is None else env
    for rank_name, size_name, launcher in (("RANK", "WORLD_SIZE", "torchrun"),
                                           ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "srun")):
        rank, size = _env_int(env, rank_name), _env_int(env, size_name)
        if rank is not None and size is not None and size > 1 and rank < size:
            return Shard(rank + 1, size, f"{launcher}: {rank_name}={rank}, {size_name}={size}")
    return None


def local_device(env: Mapping[str, str] | None = None) -> str | None:
    """``cuda:<LOCAL_RANK>`` (torchrun) or ``cuda:<SLURM_LOCALID>`` (srun) when CUDA is available, else None."""
    env = os.environ if env is None else env
    local = _env_int(env, "LOCAL_RANK")
    local = _env_int(env, "SLURM_LOCALID") if local is None else local
    if local is None:
        return None
    import torch

    return f"cuda:{local % max(torch.cuda.device_count(), 1)}" if torch.cuda.is_available() else None


# ------------------------------------------------------------------------------------------------------- merging
def merge_shards(paths: Sequence[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Join shard files (any sample format) into ``out``: the sequences ordered by their global index, every index
    from 0 to the total present exactly once, metadata (checkpoint, seed, steps, ...) equal across the shards.

    Returns ``{"path", "num", "shards"}``. Raises :class:`D3UserError` naming the file for gaps, overlaps,
    mismatched metadata or labels.
    """
    from d3core.seqfiles import SequenceSet, format_of, read_sequence_file, write_sequence_file

    format_of(out)
    if Path(out).exists() and not overwrite:
        raise D3UserError(f"{out}: already exists; choose another -o or pass --force to replace it")
    if not paths:
        raise D3UserError("d3 merge: give the shard files to join")
    parts = []
    for path in paths:
        samples = read_sequence_file(path)
        if samples.index is None:
            raise D3UserError(f"{path}: its sequences carry no d3 index (ids d3_<n>, or first_index in the "
                              "metadata); only files written by d3 sample can be merged")
        parts.append((Path(path), samples))
    parts.sort(key=lambda part: int(part[1].index[0]))
    _check_consistent(parts)
    index = np.concatenate([s.index for _, s in parts])
    _check_all_shards(parts, total=len(index))
    expected = np.arange(len(index))
    if not np.array_equal(index, expected):
        where = int(np.nonzero(index != expected)[0][0])
        holders = [str(p) for p, s in parts if np.isin(index[where], s.index)]
        if np.count_nonzero(index == index[where]) > 1:
            problem = f"sequence d3_{int(index[where])} is in more than one file ({', '.join(holders)})"
        else:
            problem = f"sequence d3_{where} is in none of the files (before {holders[0]})"
        raise D3UserError(f"d3 merge: {problem}; give every shard of the design set exactly once")
    first = parts[0][1]
    labels = None if first.labels is None else np.concatenate([s.labels for _, s in parts])
    rows = None if first.rows is None else np.concatenate([s.rows for _, s in parts])
    metadata = {k: v for k, v in first.metadata.items() if k not in SHARD_KEYS}
    if first.metadata:
        metadata.update(num=int(len(index)), merged_from=[str(p) for p, _ in parts])
    columns = {name: np.concatenate([s.columns[name] for _, s in parts]) for name in first.columns}
    merged = SequenceSet(np.concatenate([s.tokens for _, s in parts]), labels, list(first.label_names), rows, metadata,
                         index, columns)
    write_sequence_file(out, merged, overwrite=overwrite)
    return {"path": Path(out), "num": len(merged), "shards": len(parts)}


def _check_consistent(parts) -> None:
    (first_path, first), rest = parts[0], parts[1:]
    for path, samples in rest:
        if samples.length != first.length:
            raise D3UserError(f"{path}: {samples.length} bp sequences, {first_path} has {first.length} bp")
        if (samples.labels is None) != (first.labels is None) or list(samples.label_names) != list(first.label_names):
            raise D3UserError(f"{path}: labels {samples.label_names or 'none'} differ from {first_path}'s "
                              f"({first.label_names or 'none'})")
        if list(samples.columns) != list(first.columns):
            raise D3UserError(f"{path}: columns {list(samples.columns) or 'none'} differ from {first_path}'s "
                              f"({list(first.columns) or 'none'})")
        check_same_run(first_path, first.metadata, path, samples.metadata)


def check_same_run(first_path, first: dict, path, other: dict, *, may_differ: tuple[str, ...] = ()) -> None:
    """Refuse shard ``path`` when its metadata differs from ``first_path``'s in a key that identifies the run
    (everything but :data:`SHARD_KEYS`, :data:`MAY_DIFFER` and ``may_differ``)."""
    for key in sorted(set(first) | set(other)):
        if key in SHARD_KEYS or key in MAY_DIFFER or key in may_differ:
            continue
        if first.get(key) != other.get(key):
            raise D3UserError(f"{path}: metadata {key}={other.get(key)!r} differs from {first_path} "
                              f"({first.get(key)!r}); these are not shards of one design set")



def shard_of(path: Path, samples) -> tuple[int, int] | None:
    """``(K, N)`` of a shard file: from its metadata (``.npz``, ``.h5``) or its name ``<stem>.shard<K>of<N>.<ext>``."""
    shard = samples.metadata.get("shard")
    if isinstance(shard, dict) and "index" in shard and "count" in shard:
        return int(shard["index"]), int(shard["count"])
    match = _SHARD_NAME.search(path.stem)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _check_all_shards(parts, *, total: int) -> None:
    """Every shard 1..N once (when the files say which shard they are), and the design set's full row count."""
    known = {path: shard_of(path, samples) for path, samples in parts}
    counts = {info[1] for info in known.values() if info}
    if len(counts) > 1:
        listed = ", ".join(f"{path}: shard {info[0]}/{info[1]}" for path, info in known.items() if info)
        raise D3UserError(f"d3 merge: the files come from different --shard splits ({listed})")
    if counts:
        count = counts.pop()
        present = {info[0] for info in known.values() if info}
        missing = sorted(set(range(1, count + 1)) - present)
        if missing or len(parts) != count:
            raise D3UserError(f"d3 merge: {len(parts)} file(s) for {count} shards"
                              f"{f'; shard {missing[0]}/{count} is missing' if missing else ''}; give all {count}")
    totals = {int(s.metadata["total"]) for _, s in parts if "total" in s.metadata}
    if totals and totals != {total}:
        raise D3UserError(f"d3 merge: the design set has {totals.pop()} sequences but the files hold {total}; "
                          "a shard is missing")
