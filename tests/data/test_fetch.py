"""``d3 data fetch`` against a local HTTP server on 127.0.0.1: pinned and recorded hashes, nothing left on failure,
nothing written outside the data folder whatever the plugin, URL or server say.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from d3core.errors import D3UserError
from local_server import FileHandler, serving

#: a URL path whose last segment decodes to ../../evil.h5
EVIL_PATH = "/..%2F..%2Fevil.h5"


@pytest.fixture
def server(tmp_path_factory, data_pm, monkeypatch):
    """Serves a small valid deepstarr file and a junk file; yields (base_url, file_bytes)."""
    ds = data_pm.get("datasets", "deepstarr").load()()
    src = ds.synthesize(tmp_path_factory.mktemp("src") / "DeepSTARR_data.h5", 64, seed=0)
    body = src.read_bytes()
    with serving({"/DeepSTARR_data.h5": body, "/junk.h5": b"not hdf5 at all\n" * 64, EVIL_PATH: body},
                 monkeypatch) as base:
        yield base, body


def _env(tmp_path, url):
    return {"D3_DATA_DIR": str(tmp_path / "cache"), "D3_DATA_URL": url}


def test_first_download_records_hash_and_next_fetch_verifies(server, tmp_path, d3):
    base, body = server
    env = _env(tmp_path, f"{base}/DeepSTARR_data.h5")
    result = d3("data", "fetch", "deepstarr", env=env)
    assert result.exit_code == 0, result.output
    target = tmp_path / "cache" / "DeepSTARR_data.h5"
    digest = hashlib.sha256(body).hexdigest()
    assert target.read_bytes() == body
    assert (tmp_path / "cache" / "DeepSTARR_data.h5.sha256").read_text().split()[0] == digest
    first_line = result.output.strip().splitlines()[0]
    assert first_line.startswith(f"Downloading {base}/DeepSTARR_data.h5 (") and "KB)" in first_line  # size first
    assert f"sha256 {digest} recorded" in result.output and "valid deepstarr data" in result.output
    again = d3("data", "fetch", "deepstarr", env=env)
    assert again.exit_code == 0 and "sha256 verified" in again.output
    assert FileHandler.gets == ["/DeepSTARR_data.h5"]  # not downloaded twice


def test_pinned_hash_match_keeps_the_file(server, tmp_path, d3):
    base, body = server
    out = tmp_path / "elsewhere" / "ds.h5"
    digest = hashlib.sha256(body).hexdigest()
    result = d3("data", "fetch", "deepstarr", "--out", str(out), "--sha256", digest,
                env=_env(tmp_path, f"{base}/DeepSTARR_data.h5"))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == body


def test_hash_mismatch_leaves_nothing(server, tmp_path, d3):
    base, _ = server
    result = d3("data", "fetch", "deepstarr", "--sha256", "0" * 64, env=_env(tmp_path, f"{base}/DeepSTARR_data.h5"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "does not match the expected sha256" in result.output and "nothing was kept" in result.output
    assert list((tmp_path / "cache").iterdir()) == []


def test_interrupted_download_leaves_nothing(server, tmp_path, d3):
    base, _ = server
    result = d3("data", "fetch", "deepstarr", env=_env(tmp_path, f"{base}/cut/DeepSTARR_data.h5"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "interrupted" in result.output and "nothing was kept" in result.output
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_transient_failure_is_retried(server, tmp_path, d3):
    """The server answers the first request with 503: pooch's retry_if_failed fetches the file on the next try."""
    base, body = server
    result = d3("data", "fetch", "deepstarr", env=_env(tmp_path, f"{base}/flaky/DeepSTARR_data.h5"))
    assert result.exit_code == 0, result.output
    assert FileHandler.gets == ["/flaky/DeepSTARR_data.h5"] * 2  # failed once, then fetched
    assert (tmp_path / "cache" / "DeepSTARR_data.h5").read_bytes() == body
    assert "valid deepstarr data" in result.output


def test_download_that_is_not_data_is_deleted(server, tmp_path, d3):
    base, _ = server
    result = d3("data", "fetch", "deepstarr", env=_env(tmp_path, f"{base}/junk.h5"))
    assert result.exit_code == 2 and "not valid deepstarr data and was deleted" in result.output
    assert list((tmp_path / "cache").iterdir()) == []


def test_bad_sha256_flag(server, tmp_path, d3):
    base, _ = server
    result = d3("data", "fetch", "deepstarr", "--sha256", "xyz", env=_env(tmp_path, f"{base}/DeepSTARR_data.h5"))
    assert result.exit_code == 2 and "64 hexadecimal digits" in result.output


def _tree(root):
    """Every path under ``root``, relative to it, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("filename", ["../../.bashrc", "sub/../../x.h5", "sub/x.h5", "..", ".", "a\0b.h5",
                                      "..\\..\\x.h5", "ABSOLUTE"])
def test_plugin_file_name_outside_the_data_folder_is_refused(server, tmp_path, monkeypatch, filename):
    from d3_deepstarr.dataset import DeepSTARR

    base, _ = server
    cache = tmp_path / "a" / "b" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setenv("D3_DATA_DIR", str(cache))
    filename = str(tmp_path / "a" / "abs.h5") if filename == "ABSOLUTE" else filename
    evil = type("Evil", (DeepSTARR,), {"filename": filename})()
    before = _tree(tmp_path)
    with pytest.raises(D3UserError) as caught:
        evil.fetch(url=f"{base}/DeepSTARR_data.h5", progress=False, echo=lambda line: None)
    message = str(caught.value)
    assert "\n" not in message and "'deepstarr'" in message and repr(filename) in message
    assert "plain name" in message and "--out" in message
    with pytest.raises(D3UserError):
        evil.default_path()
    assert _tree(tmp_path) == before and FileHandler.gets == []


def test_plugin_names_are_checked_without_touching_the_file_system(monkeypatch, tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path))
    for bad in ({"filename": "/etc/passwd"}, {"filename": "", "name": "../evil"}):
        with pytest.raises(D3UserError, match="not a plain file name inside the data folder"):
            type("Evil", (DeepSTARR,), bad)().default_path()
    assert type("Unnamed", (DeepSTARR,), {"filename": ""})().default_path() == tmp_path / "deepstarr.h5"
    assert list(tmp_path.iterdir()) == []


def test_url_and_server_cannot_choose_the_file_name(server, tmp_path, d3):
    base, body = server
    result = d3("data", "fetch", "deepstarr", env=_env(tmp_path / "a", f"{base}{EVIL_PATH}"))
    assert result.exit_code == 0, result.output
    assert FileHandler.gets == [EVIL_PATH]
    assert _tree(tmp_path) == ["a", "a/cache", "a/cache/DeepSTARR_data.h5", "a/cache/DeepSTARR_data.h5.sha256"]
    assert (tmp_path / "a" / "cache" / "DeepSTARR_data.h5").read_bytes() == body


def test_fetch_to_a_folder_is_refused(server, tmp_path, deepstarr):
    base, _ = server
    for dest in (tmp_path, tmp_path / "x" / ".."):
        with pytest.raises(D3UserError, match="is a folder, not a file name"):
            deepstarr.fetch(dest, url=f"{base}/DeepSTARR_data.h5", progress=False, echo=lambda line: None)
    assert _tree(tmp_path) == [] and FileHandler.gets == []


@pytest.mark.skipif(sys.platform != "linux", reason="the user cache folder of Linux")
def test_the_data_folder_is_the_user_cache_unless_d3_data_dir_says(tmp_path, monkeypatch):
    from d3core.data.base import data_dir

    monkeypatch.delenv("D3_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # pooch.os_cache follows it, as every Linux tool
    assert data_dir() == tmp_path / "xdg" / "d3"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir() == Path.home() / ".cache" / "d3"
    monkeypatch.setenv("D3_DATA_DIR", "~/elsewhere")
    assert data_dir() == Path.home() / "elsewhere"
