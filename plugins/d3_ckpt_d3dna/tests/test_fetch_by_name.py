"""The record's files by name, end to end through the installed ``d3``: a local HTTP server on 127.0.0.1 serves the
fixture files as if they were the record's (``D3_MODELS_URL`` points at it); ``d3 models fetch``, then commands that
take the names in place of paths. Never the internet."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from installed_d3 import D3_SCRIPT, user_env
from local_server import FileHandler, serving

FIXTURES = Path(__file__).parent / "fixtures"
SERVED = ("D3_Tran_DeepSTARR.ckpt", "Oracle_DeepSTARR.ckpt", "data_DeepSTARR.h5")


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """``run(*args) -> CompletedProcess`` of the installed ``d3`` with the cache in ``tmp_path`` and the mirror on."""
    files = {f"/{name}": (FIXTURES / name).read_bytes() for name in SERVED}
    files["/cut/D3_Tran_DeepSTARR.ckpt"] = files["/D3_Tran_DeepSTARR.ckpt"]
    with serving(files, monkeypatch) as base:
        def run(*args, url=base):
            env = user_env(D3_DATA_DIR=str(tmp_path / "cache"), D3_MODELS_URL=url, NO_PROXY="127.0.0.1")
            return subprocess.run([str(D3_SCRIPT), *map(str, args)], capture_output=True, text=True, env=env,
                                  cwd=tmp_path, timeout=300)

        yield run, base


def test_fetch_then_use_the_published_names(mirror, tmp_path):
    run, _ = mirror
    fetched = run("models", "fetch", "deepstarr-tran", "oracle-deepstarr", "--no-progress")
    assert fetched.returncode == 0, fetched.stderr
    cached = tmp_path / "cache" / "models" / "D3_Tran_DeepSTARR.ckpt"
    assert cached.read_bytes() == (FIXTURES / "D3_Tran_DeepSTARR.ckpt").read_bytes()
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    assert (cached.parent / "D3_Tran_DeepSTARR.ckpt.sha256").read_text().split()[0] == digest
    listed = {f["name"]: f for f in json.loads(run("models", "list", "--json").stdout)}
    assert listed["deepstarr-tran"]["cached"] and not listed["hepg2-tran"]["cached"]
    info = run("checkpoint", "info", "deepstarr-tran")
    assert info.returncode == 0 and "d3-dna" in info.stdout and "d3dna-Tran" in info.stdout, info.stdout
    predicted = run("oracle", "info", "oracle-deepstarr")
    assert predicted.returncode == 0 and "dev, hk" in predicted.stdout, predicted.stdout + predicted.stderr
    # data fetched on first use by a command that takes a data path
    sampled = run("sample", "deepstarr-tran", "--data", "data-deepstarr", "--labels", "dev=1,hk=0", "--num", "2",
                  "--steps", "4", "--no-progress", "-o", "s.fasta")
    assert sampled.returncode == 0, sampled.stderr
    assert "fetching data_DeepSTARR.h5" in sampled.stderr and (tmp_path / "s.fasta").read_text().count(">") == 2


def test_interrupted_download_and_offline_are_one_line(mirror, tmp_path):
    run, base = mirror
    cut = run("models", "fetch", "deepstarr-tran", "--no-progress", url=f"{base}/cut")
    assert cut.returncode == 2 and "Traceback" not in cut.stderr and "nothing was kept" in cut.stderr
    assert not (tmp_path / "cache" / "models" / "D3_Tran_DeepSTARR.ckpt").exists()
    offline = run("sample", "hepg2-tran", "--labels", "activity=1", "-o", "x.fasta", url="http://127.0.0.1:9")
    errors = [line for line in offline.stderr.splitlines() if line.startswith("Error:")]
    assert offline.returncode == 2 and len(errors) == 1 and "D3_MODELS_URL" in errors[0]
    assert FileHandler.gets.count("/cut/D3_Tran_DeepSTARR.ckpt") > 1  # retried before giving up


@pytest.mark.slow
def test_the_readme_walkthrough_with_the_published_names(mirror, tmp_path):
    """README's "Use the published models": fetch, sample, evaluate with the published oracle, design (small)."""
    run, _ = mirror
    steps = ("--num", "8", "--steps", "8", "--no-progress")
    for args in (("models", "fetch", "deepstarr-tran", "oracle-deepstarr", "data-deepstarr", "--no-progress"),
                 ("sample", "deepstarr-tran", "--data", "data-deepstarr", "--labels", "dev=2,hk=0", *steps, "-o",
                  "published.fasta"),
                 ("evaluate", "published.fasta", "--dataset", "deepstarr", "--data", "data-deepstarr", "--oracle",
                  "oracle-deepstarr", "--no-motifs", "--no-attributions", "--no-discriminator", "--no-progress"),
                 ("design", "deepstarr-tran", "--data", "data-deepstarr", "--oracle", "oracle-deepstarr",
                  "--objective", "dev - hk", "--labels", "dev=2,hk=0", *steps, "--candidates", "2",
                  "--likelihood-samples", "0", "-o", "designed.fasta")):
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr[-3000:])
    assert (tmp_path / "designed.fasta").read_text().count(">") == 8
    assert (tmp_path / "published_eval" / "report.md").is_file()
