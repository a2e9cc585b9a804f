"""Published files by name: trained models, oracles and data that plugins register (``register_models``), fetched
into the cache on first use.

``d3 models list`` shows them, ``d3 models fetch NAME`` downloads them (pooch, progress bar, retries, SHA-256 pinned
or recorded at the first download: :func:`d3core.data.fetch.download`), and every command that takes a checkpoint,
oracle or data path also takes such a name (:func:`resolve_published`). Files live in ``<data dir>/models``
(``$D3_DATA_DIR``, default the user cache, ``~/.cache/d3`` on Linux); ``$D3_MODELS_URL`` replaces the folder part of every URL (a mirror, or
a local server in tests): the file name is kept.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from d3core.errors import D3UserError

#: environment variable replacing the folder of every published file's URL (mirrors, tests)
MODELS_URL_ENV = "D3_MODELS_URL"
#: what a published file is
FILE_KINDS = ("model", "oracle", "data")


@dataclass(frozen=True)
class PublishedFile:
    """One registered file: ``name`` (what users type), ``url`` (where it is published), ``kind`` (model, oracle,
    data), ``size`` (bytes, when known), ``sha256`` (pinned, when known), architecture, dataset, description and the
    plugin that registered it."""

    name: str
    url: str
    kind: str
    size: int | None = None
    sha256: str | None = None
    arch: str | None = None
    dataset: str | None = None
    description: str | None = None
    provider: str | None = None

    @property
    def file_name(self) -> str:
        """The file name in the cache: the last part of the URL's path."""
        return unquote(urlsplit(self.url).path.rstrip("/").rpartition("/")[2])

    @property
    def source(self) -> str:
        """The URL to download from: ``$D3_MODELS_URL`` + the file name when set, else :attr:`url`."""
        mirror = os.environ.get(MODELS_URL_ENV)
        return f"{mirror.rstrip('/')}/{self.file_name}" if mirror else self.url

    @property
    def path(self) -> Path:
        """Where the file is (or will be) cached: a plain file name inside :func:`models_dir`, whatever the URL
        says (a URL whose last part is ``..%2F..%2Fx`` is refused, never followed)."""
        name = self.file_name
        if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
            raise D3UserError(f"published file {self.name!r} (from {self.provider}): its URL {self.url!r} does not "
                              "end in a plain file name; fix the plugin's registration")
        return models_dir() / name

    @property
    def cached(self) -> bool:
        return self.path.is_file()


def models_dir() -> Path:
    """``<data dir>/models``: the cache of published files."""
    from d3core.data.base import data_dir

    return data_dir() / "models"


def published_files(manager=None) -> list[PublishedFile]:
    """Every file installed plugins register (``register_models``), in registration order. A registration without a
    URL or with an unknown ``kind`` is a :class:`D3UserError` naming the plugin."""
    from d3core.plugins import get_plugin_manager

    manager = manager or get_plugin_manager()
    files = []
    for entry in manager.registry("models").entries():
        meta = entry.metadata
        kind = meta.get("kind")
        if not isinstance(entry.factory, str) or "://" not in entry.factory or kind not in FILE_KINDS:
            raise D3UserError(f"{entry.label}: a published file is registered with its download URL as the factory "
                              f"and kind= one of {', '.join(FILE_KINDS)} (got {entry.factory!r}, kind={kind!r}); "
                              f"fix the plugin, or 'pip uninstall {entry.provider.distribution}'")
        files.append(PublishedFile(entry.name, entry.factory, kind, meta.get("size"), meta.get("sha256"),
                                   meta.get("arch"), meta.get("dataset"), entry.description,
                                   entry.provider.distribution))
    return files


def find_published(name: str, manager=None) -> PublishedFile | None:
    """The registered file called ``name`` (case-insensitive, ``-`` = ``_``), or None."""
    from d3core.plugins import get_plugin_manager

    manager = manager or get_plugin_manager()
    if name not in manager.registry("models"):
        return None
    entry = manager.get("models", name)
    return next(f for f in published_files(manager) if f.name == entry.name)


def fetch_published(file: PublishedFile, *, progress: bool = True,
                    echo: Callable[[str], None] = print) -> Path:
    """Download ``file`` into the cache (kept when present and its hash checks out); its path. Raises
    :class:`D3UserError` when the download fails (offline, server error, interrupted) or the hash differs."""
    from d3core.data.fetch import download

    path, _ = download(file.source, file.path, sha256=file.sha256, progress=progress, echo=echo,
                       mirror_env=MODELS_URL_ENV)
    return path


def resolve_published(spec: str | os.PathLike, *, kinds: tuple[str, ...] = FILE_KINDS, manager=None,
                      progress: bool = True, echo: Callable[[str], None] = print) -> Path:
    """The path a command should open for ``spec``: an existing file or folder as it is; else a registered published
    file of one of ``kinds`` (downloaded first when not cached); else ``spec`` unchanged, for the command's own
    "no such file" error."""
    path = Path(spec).expanduser()
    if path.exists() or os.sep in str(spec) or "/" in str(spec):
        return path
    file = find_published(str(spec), manager)
    if file is None:
        return path
    if file.kind not in kinds:
        raise D3UserError(f"{spec}: a published {file.kind} file, not a {' or '.join(kinds)}; 'd3 models list' "
                          "shows what each name is")
    if file.cached:
        return file.path
    echo(f"{spec}: not in the cache yet, fetching {file.file_name}")
    return fetch_published(file, progress=progress, echo=echo)
