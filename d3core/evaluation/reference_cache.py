"""The reference side of ``d3 evaluate``, paid for once: what is computed from the reference data alone (oracle
predictions and embeddings of the reference rows, k-mer spectra, motif counts, attribution maps of real sequences,
their identity to the training rows) is kept on disk and reused by the next evaluation against the same data.

One entry is one ``.npz`` file (no pickles) in the cache folder (``--cache-dir``, else ``$D3_EVAL_CACHE``, else
``<data dir>/eval-cache``, the data dir being ``$D3_DATA_DIR`` or the user cache, ``~/.cache/d3`` on Linux). Its name is a digest of its key:
the content of the data file (BLAKE2b of every byte, not its size or time), the reference split, the content of the
oracle file (or of its weights), the section's settings and :data:`CACHE_VERSION`. The file stores the key and a
digest of its arrays; an entry whose key or digest does not match, or that cannot be read, is recomputed and
rewritten, never trusted. Entries are written atomically (:func:`d3core.atomic.write_atomically`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

#: bump when what an entry holds changes meaning
CACHE_VERSION = 1
#: environment variable naming the cache folder
CACHE_ENV = "D3_EVAL_CACHE"
_KEY = "__d3_key__"
_SUM = "__d3_sum__"
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$D3_EVAL_CACHE``, else ``<data dir>/eval-cache``."""
    from d3core.data.base import data_dir

    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else data_dir() / "eval-cache"


def file_digest(path: str | os.PathLike) -> str:
    """BLAKE2b-128 of a file's bytes (hex): its content, whatever its name, size or modification time."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def oracle_digest(oracle) -> str:
    """The oracle's content: its file's bytes, or, for an oracle without a file, its weights."""
    path = getattr(oracle, "path", None)
    if path is not None and Path(path).is_file():
        return file_digest(path)
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(oracle.network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def array_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Digest of named arrays (names, dtypes, shapes and bytes), e.g. the reference rows an entry was made from."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


class ReferenceCache:
    """Entries of one evaluation: ``get(name, settings, compute)`` returns the arrays of the entry, from disk when a
    valid one exists, else from ``compute()`` (then written unless the cache is read-only, ``write=False``).

    ``folder=None`` disables the cache (``--no-cache``): nothing is read or written. ``base`` is the part of every key
    shared by the run (data digest, split). :attr:`hits`, :attr:`misses` and :attr:`problems` (entries found but
    not trusted) say what happened.
    """

    def __init__(self, folder: str | os.PathLike | None, base: Mapping[str, Any]):
        self.folder = None if folder is None else Path(folder)
        self.base = dict(base)
        self.hits: list[str] = []
        self.misses: list[str] = []
        self.problems: list[str] = []

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def key_text(self, name: str, settings: Mapping[str, Any]) -> str:
        key = {"version": CACHE_VERSION, "entry": name, **self.base, "settings": dict(settings)}
        return json.dumps(key, sort_keys=True, default=str)

    def path_of(self, name: str, settings: Mapping[str, Any]) -> Path:
        digest = hashlib.sha256(self.key_text(name, settings).encode()).hexdigest()[:32]
        return self.folder / f"{name}-{digest}.npz"

    def get(self, name: str, settings: Mapping[str, Any],
            compute: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The entry ``name`` for ``settings`` (plain JSON-able values): ``{array name: array}``."""
        if self.folder is None:
            return dict(compute())
        text = self.key_text(name, settings)
        path = self.path_of(name, settings)
        if path.is_file():
            try:
                arrays = _read(path, text)
                self.hits.append(name)
                return arrays
            except Exception as exc:  # a stale, truncated or altered entry: never trusted
                self.problems.append(f"{path.name}: {type(exc).__name__}: {exc}")
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        self.misses.append(name)
        _write(path, text, arrays)
        return arrays

    def summary(self) -> str:
        """One line for the user: where, and which entries were hit or computed."""
        if self.folder is None:
            return "reference cache: off (--no-cache)"
        parts = []
        if self.hits:
            parts.append(f"hit for {', '.join(self.hits)}")
        if self.misses:
            parts.append(f"computed and stored {', '.join(self.misses)}")
        if self.problems:
            parts.append(f"{len(self.problems)} invalid entr{'y' if len(self.problems) == 1 else 'ies'} recomputed")
        state = "hit" if self.hits and not self.misses else "miss" if not self.hits else "partly hit"
        return f"reference cache {state} ({'; '.join(parts) or 'nothing to cache'}) in {self.folder}"


def _read(path: Path, text: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    if str(arrays.pop(_KEY, np.array(""))) != text:
        raise ValueError("its key differs from this evaluation's")
    recorded = str(arrays.pop(_SUM, np.array("")))
    if recorded != array_digest(arrays):
        raise ValueError("its arrays do not match their digest")
    return arrays


def _write(path: Path, text: str, arrays: Mapping[str, np.ndarray]) -> None:
    from d3core.atomic import make_folder, write_atomically

    make_folder(path.parent, choose="another --cache-dir, or --no-cache")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays, **{_KEY: np.array(text), _SUM: np.array(array_digest(arrays))})

    write_atomically(path, write, size_hint=sum(int(np.asarray(v).nbytes) for v in arrays.values()))
