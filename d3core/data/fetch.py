"""Download a data file with pooch: size first, progress bar, SHA-256 pinned or recorded, nothing left on failure.

The file is streamed by pooch into a temporary file in the target folder and moved into place only after the download
completed and its hash matched; an interrupted download (network error, Ctrl-C) or a hash mismatch removes the
temporary file. The SHA-256 of the first download is recorded beside the file (``<file>.sha256``, ``sha256sum``
format) and checked on later fetches; ``sha256=`` pins it up front.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from d3core.errors import D3UserError
from d3core.progress import progress_bar


def human_size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def sidecar(path: Path) -> Path:
    """Where the recorded hash of ``path`` lives."""
    return path.with_name(path.name + ".sha256")


def recorded_sha256(path: Path) -> str | None:
    side = sidecar(path)
    if not side.is_file():
        return None
    text = side.read_text().split()
    return text[0].lower() if text else None


def record_sha256(path: Path, digest: str) -> None:
    sidecar(path).write_text(f"{digest}  {path.name}\n")


def remote_size(url: str, timeout: float = 10.0) -> int | None:
    """``Content-Length`` from a HEAD request (following redirects), or ``None`` when the server does not say."""
    import requests

    try:
        response = requests.head(url, allow_redirects=True, timeout=timeout)
        if response.ok and response.headers.get("Content-Length"):
            return int(response.headers["Content-Length"])
    except (requests.RequestException, ValueError):
        return None
    return None


def _check_hex(sha256: str) -> str:
    value = sha256.lower().removeprefix("sha256:")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise D3UserError(f"--sha256 {sha256!r}: expected 64 hexadecimal digits")
    return value


#: further attempts after a failed download (pooch's ``retry_if_failed``, with its growing pause between them)
RETRIES = 3


def download(url: str, dest: str | Path, *, sha256: str | None = None, progress: bool = True,
             echo: Callable[[str], None] = print, mirror_env: str = "D3_DATA_URL",
             retries: int = RETRIES) -> tuple[Path, str]:
    """Fetch ``url`` to ``dest`` (a file path); return ``(dest, sha256)``.

    ``sha256``: the expected hash (pinned); without it, the hash recorded beside an earlier download is used, and a
    first download records its hash. An existing file whose hash matches is kept without downloading.

    Writes only into ``dest.parent``: pooch's temporary file, ``dest.name`` (never a name taken from the URL or the
    server's headers) and its ``.sha256``. A failed attempt is retried ``retries`` times; ``mirror_env`` names the
    variable that sets a mirror, for the error messages.
    """
    import pooch
    import requests

    dest = Path(dest).expanduser()
    if dest.name in ("", "..") or dest.is_dir():
        raise D3UserError(f"{dest}: is a folder, not a file name; give a file path such as {dest / 'data.h5'}")
    pinned = _check_hex(sha256) if sha256 else None
    expected = pinned or recorded_sha256(dest)
    if dest.is_file():
        actual = pooch.file_hash(str(dest), alg="sha256")
        if expected is None:
            record_sha256(dest, actual)
            echo(f"{dest} already present; recorded sha256 {actual}")
            return dest, actual
        if actual == expected:
            echo(f"{dest} already present, sha256 verified")
            return dest, actual
        echo(f"{dest} has sha256 {actual}, expected {expected}: downloading it again")
    size = remote_size(url)
    echo(f"Downloading {url} ({human_size(size)}) to {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    logger = pooch.get_logger()  # pooch's own logger object (not registered with logging.getLogger)
    level = logger.level
    logger.setLevel(logging.WARNING)
    # total=1 until pooch sets the real one (a tqdm without total has no truth value)
    bar = progress_bar(1, dest.name, enabled=progress, download=True)
    http = url.lower().startswith(("http://", "https://"))
    downloader = pooch.HTTPDownloader(progressbar=bar, chunk_size=1 << 20, timeout=60) if http else None
    try:
        fetcher = pooch.create(path=str(dest.parent), base_url="", retry_if_failed=retries,
                               registry={dest.name: f"sha256:{expected}" if expected else None},
                               urls={dest.name: url})
        fetcher.fetch(dest.name, downloader=downloader)
    except ValueError as exc:  # pooch: hash mismatch (the temporary file is already gone)
        detail = " ".join(str(exc).split())
        raise D3UserError(f"download of {url} does not match the expected sha256 {expected} ({detail}); nothing "
                          f"was kept. Check --sha256, the mirror ({mirror_env}), or delete the recorded "
                          f"{sidecar(dest).name} if the published file really changed") from exc
    except requests.RequestException as exc:
        detail = " ".join(str(exc).split())
        raise D3UserError(f"download of {url} failed or was interrupted ({type(exc).__name__}: {detail}); nothing "
                          f"was kept. Check the network or set {mirror_env} to a mirror, then run the fetch "
                          "again") from exc
    finally:
        logger.setLevel(level)
        bar.close()
    actual = pooch.file_hash(str(dest), alg="sha256")
    if expected is None:
        record_sha256(dest, actual)
        echo(f"sha256 {actual} recorded in {sidecar(dest)}")
    elif not sidecar(dest).exists():
        record_sha256(dest, actual)
    return dest, actual


def discard(dest: Path) -> None:
    """Remove a fetched file and its recorded hash (used when the downloaded content is not valid data)."""
    dest.unlink(missing_ok=True)
    sidecar(dest).unlink(missing_ok=True)
