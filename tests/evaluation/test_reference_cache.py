"""The reference cache of ``d3 evaluate`` (issue 31): a hit gives the cold run's metrics; a changed data file or
oracle, or a damaged entry, is recomputed; ``--no-cache`` writes nothing."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from d3core.evaluation.protocols import protocol


@pytest.fixture(scope="module")
def inputs(tiny_data, tiny_oracle):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.oracle import load_oracle
    from d3core.generation import SampleSet

    dataset = DeepSTARR()
    test = dataset.open_split(tiny_data, "test")
    tokens, labels = (t.numpy() for t in test.read_batch(np.arange(len(test))))
    generated = tokens.astype(np.uint8).copy()
    generated[:, ::7] = (generated[:, ::7] + 1) % 4
    samples = SampleSet(generated, labels.astype(np.float32), ["dev", "hk"], np.arange(len(generated)),
                        {"dataset": "deepstarr", "reference_split": "test"})
    return dataset, samples, load_oracle(tiny_oracle)


def _evaluate(inputs, data, out, cache_dir, oracle=None):
    from d3core.evaluation.report import evaluate_samples

    dataset, samples, loaded = inputs
    settings = protocol("quick", attribution_sequences=4, kmer_ks=(3, 4))
    return evaluate_samples(samples, dataset, data, out, oracle=oracle or loaded, protocol=settings,
                            discriminator=False, plots=False, device="cpu", cache_dir=cache_dir)


def _cache(result) -> dict:
    return result["inputs"]["reference_cache"]


ENTRIES = {"kmer_spectra", "diversity_reference", "nn_identity_reference", "oracle_reference",
           "motif_counts_reference", "attributions_reference"}


def test_a_hit_gives_the_cold_runs_metrics(inputs, tiny_data, tmp_path):
    cache = tmp_path / "cache"
    cold = _evaluate(inputs, tiny_data, tmp_path / "a", cache)
    assert set(_cache(cold)["computed"]) == ENTRIES and not _cache(cold)["hits"]
    assert len(list(cache.glob("*.npz"))) == len(ENTRIES)
    warm = _evaluate(inputs, tiny_data, tmp_path / "b", cache)
    assert set(_cache(warm)["hits"]) == ENTRIES and not _cache(warm)["computed"]
    assert warm["metrics"] == cold["metrics"]
    uncached = _evaluate(inputs, tiny_data, tmp_path / "c", None)
    assert uncached["metrics"] == cold["metrics"] and not list((tmp_path / "c").glob("*.npz"))


def test_a_changed_data_file_or_oracle_is_recomputed(inputs, tiny_data, tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.oracle import load_oracle, save_oracle

    cache = tmp_path / "cache"
    data = tmp_path / "ds.h5"
    shutil.copyfile(tiny_data, data)
    _evaluate(inputs, data, tmp_path / "a", cache)
    shutil.copyfile(tiny_data, data)  # same bytes, new modification time: still a hit
    assert set(_cache(_evaluate(inputs, data, tmp_path / "b", cache))["hits"]) == ENTRIES
    # another oracle (one weight changed): what depends on it is recomputed, the rest is reused
    other = load_oracle(inputs[2].path)
    with __import__("torch").no_grad():
        next(other.network.parameters()).add_(0.01)
    save_oracle(tmp_path / "other.oracle.ckpt", other.network, dict(other.info))
    changed = _evaluate(inputs, data, tmp_path / "c", cache, oracle=load_oracle(tmp_path / "other.oracle.ckpt"))
    assert set(_cache(changed)["computed"]) == {"oracle_reference", "attributions_reference"}
    # other data of the same shape (another seed): everything is recomputed
    DeepSTARR().synthesize(tmp_path / "other.h5", 96, seed=8)
    shutil.copyfile(tmp_path / "other.h5", data)
    assert set(_cache(_evaluate(inputs, data, tmp_path / "d", cache))["computed"]) == ENTRIES


@pytest.mark.parametrize("damage", ["garbage", "truncated", "altered"])
def test_a_damaged_entry_is_recomputed_never_trusted(inputs, tiny_data, tmp_path, damage):
    cache = tmp_path / "cache"
    cold = _evaluate(inputs, tiny_data, tmp_path / "a", cache)
    entry = next(cache.glob("oracle_reference-*.npz"))
    if damage == "garbage":
        entry.write_bytes(b"not an npz file")
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:200])
    else:  # a valid archive whose predictions were changed: its digest no longer matches
        with np.load(entry) as stored:
            arrays = {k: stored[k] for k in stored.files}
        arrays["predicted"] = arrays["predicted"] + 1
        with open(entry, "wb") as handle:
            np.savez(handle, **arrays)
    again = _evaluate(inputs, tiny_data, tmp_path / "b", cache)
    assert _cache(again)["computed"] == ["oracle_reference"] and len(_cache(again)["invalid"]) == 1
    assert again["metrics"] == cold["metrics"]
    assert _cache(_evaluate(inputs, tiny_data, tmp_path / "c", cache))["computed"] == []  # rewritten


def test_cli_reports_the_cache_and_no_cache_writes_nothing(d3_cli, tiny_data, tiny_oracle, inputs, tmp_path,
                                                          monkeypatch):
    from d3core.generation import write_samples

    samples = tmp_path / "s.npz"
    write_samples(samples, inputs[1])
    cache = tmp_path / "cache"
    monkeypatch.setenv("D3_EVAL_CACHE", str(tmp_path / "env-cache"))
    args = ("evaluate", samples, "--data", tiny_data, "--device", "cpu", "--kmer-ks", "3", "--no-attributions",
            "--no-motifs", "--no-discriminator", "--no-progress")
    result = d3_cli(*args, "--out", tmp_path / "a", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "reference cache" not in result.output and not (tmp_path / "env-cache").exists()
    result = d3_cli(*args, "--out", tmp_path / "b", "--cache-dir", cache)
    assert result.exit_code == 0 and "reference cache miss" in result.output, result.output
    result = d3_cli(*args, "--out", tmp_path / "c", "--cache-dir", cache)
    assert f"reference cache hit (hit for kmer_spectra" in result.output and str(cache) in result.output
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text())["metrics"] for d in "abc"]
    assert metrics[0] == metrics[1] == metrics[2]
    result = d3_cli(*args, "--out", tmp_path / "d")  # default: $D3_EVAL_CACHE
    assert result.exit_code == 0 and list((tmp_path / "env-cache").glob("*.npz")), result.output
    result = d3_cli(*args, "--out", tmp_path / "e", "--no-cache", "--cache-dir", cache)
    assert result.exit_code == 2 and "--cache-dir and --no-cache" in result.output
