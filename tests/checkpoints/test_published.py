"""Published files by name (``register_models``, ``d3 models list|fetch``, names in place of paths) against a local
HTTP server on 127.0.0.1 serving a real oracle file as if it were a published one: first download, cache, wrong
hash, interrupted and offline downloads, and URLs that try to choose the cache's file names."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from d3core.api import hookimpl
from d3core.cli import make_cli
from d3core.testing.helpers import fresh_manager
from local_server import FileHandler, serving

ORACLE_FILE = Path(__file__).parents[1] / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"
PUBLISHED = "Oracle_DeepSTARR.ckpt"


def _manager(base: str, *, sha256: str | None = None, path: str = PUBLISHED):
    """The installed-style manager (deepstarr's oracle network registered) plus a plugin publishing ``path``."""
    from d3core.plugins import make_plugin_manager

    class Publishes:
        @hookimpl
        def register_models(self, register):
            register("oracle-test", f"{base}/{path}", kind="oracle", dataset="deepstarr", size=ORACLE_FILE.stat().st_size,
                     description="a published oracle", **({"sha256": sha256} if sha256 else {}))
            register("model-test", f"{base}/D3_Conv_Test.ckpt", kind="model", arch="Conv", dataset="deepstarr")

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    manager.register(Publishes(), "d3-publishes-test", version="0")
    return manager


@pytest.fixture
def published(tmp_path, monkeypatch):
    """``(base URL, oracle bytes)`` served locally; the cache in ``tmp_path/cache``."""
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("D3_MODELS_URL", raising=False)
    body = ORACLE_FILE.read_bytes()
    with serving({f"/{PUBLISHED}": body, "/..%2F..%2Fevil.ckpt": body}, monkeypatch) as base:
        yield base, body


def _d3(manager, *args):
    return CliRunner().invoke(make_cli(manager), [str(a) for a in args])


def test_list_fetch_and_use_by_name(published, tmp_path):
    base, body = published
    manager = _manager(base)
    listed = [f for f in json.loads(_d3(manager, "models", "list", "--json").output)
              if f["provider"] == "d3-publishes-test"]
    assert [(f["name"], f["kind"], f["cached"]) for f in listed] == [("oracle-test", "oracle", False),
                                                                     ("model-test", "model", False)]
    table = _d3(manager, "models", "list").output
    assert "oracle-test" in table and PUBLISHED in table and "no" in table
    # a command given the name fetches it, then opens it as the file
    info = _d3(manager, "oracle", "info", "oracle-test")
    assert info.exit_code == 0, info.output
    cached = tmp_path / "cache" / "models" / PUBLISHED
    assert cached.read_bytes() == body and "fetching" in info.output and "dev, hk" in info.output
    assert (cached.parent / f"{PUBLISHED}.sha256").read_text().split()[0] == hashlib.sha256(body).hexdigest()
    again = _d3(manager, "models", "fetch", "oracle-test", "--no-progress")
    assert again.exit_code == 0 and "sha256 verified" in again.output
    assert FileHandler.gets == [f"/{PUBLISHED}"]  # downloaded once
    listed = {f["name"]: f for f in json.loads(_d3(manager, "models", "list", "--json").output)}
    assert listed["oracle-test"]["cached"] is True


def test_pinned_hash_that_differs_keeps_nothing(published, tmp_path):
    base, _ = published
    result = _d3(_manager(base, sha256="0" * 64), "models", "fetch", "oracle-test", "--no-progress")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "does not match the expected sha256" in result.output and "D3_MODELS_URL" in result.output
    assert not (tmp_path / "cache" / "models" / PUBLISHED).exists()


def test_interrupted_download_keeps_nothing(published, tmp_path, monkeypatch):
    base, _ = published
    monkeypatch.setenv("D3_MODELS_URL", f"{base}/cut")  # the mirror cuts every connection short
    result = _d3(_manager(base), "models", "fetch", "oracle-test", "--no-progress")
    assert result.exit_code == 2 and "interrupted" in result.output and "nothing was kept" in result.output
    assert len(FileHandler.gets) > 1, "retried"
    assert not any((tmp_path / "cache" / "models").glob(f"*{PUBLISHED}*"))


def test_a_transient_failure_is_retried(published, tmp_path, monkeypatch):
    base, body = published
    monkeypatch.setenv("D3_MODELS_URL", f"{base}/flaky")  # the mirror fails the first request
    result = _d3(_manager(base), "models", "fetch", "oracle-test", "--no-progress")
    assert result.exit_code == 0, result.output
    assert FileHandler.gets == [f"/flaky/{PUBLISHED}"] * 2
    assert (tmp_path / "cache" / "models" / PUBLISHED).read_bytes() == body


def test_offline_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("D3_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    result = _d3(_manager("http://127.0.0.1:9"), "oracle", "predict", "oracle-test", "x.fasta", "-o", "p.tsv")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "download of http://127.0.0.1:9/" in lines[0] and "D3_MODELS_URL" in lines[0]


def test_a_name_of_another_kind_and_unknown_names(published):
    base, _ = published
    manager = _manager(base)
    wrong = _d3(manager, "sample", "oracle-test", "-o", "x.fasta")
    assert wrong.exit_code == 2 and "a published oracle file, not a model" in wrong.output
    unknown = _d3(manager, "models", "fetch", "nope")
    assert unknown.exit_code == 2 and "oracle-test, model-test" in unknown.output
    missing = _d3(manager, "oracle", "info", "nope")  # neither a file nor a name: the command's own error
    assert missing.exit_code == 2 and "nope" in missing.output and FileHandler.gets == []


def test_url_cannot_choose_the_cache_file_name(published, tmp_path):
    base, _ = published
    result = _d3(_manager(base, path="..%2F..%2Fevil.ckpt"), "models", "fetch", "oracle-test")
    assert result.exit_code == 2 and "does not end in a plain file name" in result.output
    assert FileHandler.gets == [] and not (tmp_path / "evil.ckpt").exists()


def test_design_takes_a_published_oracle_name(published):
    from d3core.evaluation.oracle import resolve_oracle

    base, _ = published
    oracle = resolve_oracle("oracle-test", manager=_manager(base))
    assert oracle.label_names == ["dev", "hk"] and oracle.length == 249


def test_registration_without_url_or_kind_names_the_plugin():
    from d3core.checkpoints.published import published_files
    from d3core.errors import D3UserError

    class Bad:
        @hookimpl
        def register_models(self, register):
            register("x", "some_module:thing", kind="weights")

    manager = fresh_manager()
    manager.register(Bad(), "d3-bad-models", version="1")
    with pytest.raises(D3UserError, match="d3-bad-models.*download URL as the factory"):
        published_files(manager)
