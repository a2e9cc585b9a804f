"""``d3 convert --to d3-dna``: d3-dna's Lightning ``.ckpt``, from d3-dna's own files (any layout) and from d3's
``Tran``; d3 reads it back exactly, and (slow) d3-dna 0.1.3's own loader opens it with the same outputs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
SIDE = Path(__file__).parent / "d3dna_side.py"


def _converted(d3_run_cli, source: Path, out: Path, *extra) -> Path:
    result = d3_run_cli("convert", source, "--to", "d3-dna", "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return out / f"{source.stem}.ckpt"


@pytest.mark.parametrize("name", ["D3_Tran_DeepSTARR.ckpt", "D3_Conv_MPRA_K562.ckpt", "D3_Conv_DeepSTARR.pth"])
def test_round_trip_is_exact(d3dna, d3_run_cli, tmp_path, config_option, name):
    from d3core.checkpoints import load_bundle

    from d3core.checkpoints import convert_checkpoint

    _, source = load_bundle(FIXTURES / name, **config_option(name))
    direct = tmp_path / "direct.ckpt"  # d3-dna -> d3-dna keeps the file's own d3-dna config
    convert_checkpoint(FIXTURES / name, direct, to="d3-dna", **config_option(name))
    assert load_bundle(direct)[1].extra["d3dna"]["cfg"]["training"] == source.extra["d3dna"]["cfg"]["training"]
    extra = ("--legacy_config", config_option(name)["config"]) if config_option(name) else ()
    result = d3_run_cli("convert", FIXTURES / name, "--to", "lightning", "--out", tmp_path / "d3", *extra)
    assert result.exit_code == 0, result.output
    target = _converted(d3_run_cli, tmp_path / "d3" / f"{Path(name).stem}.ckpt", tmp_path / "d3dna")
    fmt, back = load_bundle(target)
    assert fmt == "d3-dna" and back.extra["d3dna"]["layout"] == "lightning"
    assert (back.architecture, back.dataset, back.step) == (source.architecture, source.dataset, source.step)
    assert back.config["model"] == source.config["model"]
    for key, tensor in source.model.items():
        assert torch.equal(back.model[key], tensor), key
    for key, tensor in source.ema["shadow"].items():
        assert torch.equal(back.ema["shadow"][key], tensor), key
    for key, moments in source.optimizer["state"].items():
        assert all(torch.equal(back.optimizer["state"][key][m], v) for m, v in moments.items()
                   if isinstance(v, torch.Tensor)), key


def _tran_run(d3_register, d3_train_smoke):
    tran = pytest.importorskip("d3_arch_tran")
    d3_register(tran, "d3-arch-tran")
    return d3_train_smoke(dataset="tiny-dna", arch="Tran")["last_checkpoint"]


def test_d3s_tran_exports_with_the_same_conditional_outputs(d3dna, d3_register, d3_train_smoke, d3_run_cli,
                                                              d3_tiny_batch, tmp_path):
    import d3core

    checkpoint = _tran_run(d3_register, d3_train_smoke)
    with pytest.warns(UserWarning, match="null condition"):
        target = _converted(d3_run_cli, Path(checkpoint), tmp_path)
    tokens, labels, sigma = d3_tiny_batch(num_labels=1)
    ours, _, _ = d3core.load_model_local(checkpoint)
    theirs, _, _ = d3core.load_model_local(target)
    with torch.no_grad():
        assert float((ours(tokens, labels, sigma) - theirs(tokens, labels, sigma)).abs().max()) <= 1e-6
    assert type(theirs).__name__ == "D3dnaTransformer"


def test_a_model_d3dna_cannot_run_is_refused_before_writing(d3dna, d3_train_smoke, d3_run_cli, tmp_path):
    checkpoint = d3_train_smoke(dataset="tiny-dna", arch="tiny-arch")["last_checkpoint"]
    result = d3_run_cli("convert", checkpoint, "--to", "d3-dna", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "d3-dna runs its own transformer and CNN" in result.output
    assert not list((tmp_path / "out").glob("*.ckpt"))


@pytest.fixture(scope="module")
def d3dna_env(tmp_path_factory):
    """A folder with ``d3-dna==0.1.3`` (and einops) installed by pip, for a subprocess of this interpreter (which
    has its other dependencies: torch, pytorch-lightning, omegaconf, h5py, scipy, tqdm)."""
    target = tmp_path_factory.mktemp("d3dna-env")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                             "d3-dna==0.1.3", "einops"], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.skip(f"cannot pip install d3-dna==0.1.3 (offline?): {result.stderr.strip()[-200:]}")
    return target


def _d3dna_scores(env: Path, checkpoint: Path, tokens, sigma, labels, tmp_path: Path):
    inputs, out = tmp_path / "inputs.pt", tmp_path / "out.pt"
    torch.save({"tokens": tokens, "sigma": sigma, "labels": labels}, inputs)
    result = subprocess.run([sys.executable, str(SIDE), str(checkpoint), str(inputs), str(out)],
                            env={**os.environ, "PYTHONPATH": str(env)}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return torch.load(out, weights_only=True)["score"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["D3_Tran_MPRA_HepG2.ckpt", "D3_Conv_DeepSTARR.pth"])
def test_d3dnas_own_loader_opens_the_export(d3dna, d3dna_env, d3_run_cli, reference, tmp_path, config_option,
                                            name):
    """Through d3's Lightning format and back, so the d3-dna file is written from d3's bundle, not copied."""
    extra = ("--legacy_config", config_option(name)["config"]) if config_option(name) else ()
    result = d3_run_cli("convert", FIXTURES / name, "--to", "lightning", "--out", tmp_path / "d3", *extra)
    assert result.exit_code == 0, result.output
    target = _converted(d3_run_cli, tmp_path / "d3" / f"{Path(name).stem}.ckpt", tmp_path / "d3dna")
    expected = reference["outputs"][name]
    inputs = reference["inputs"]
    labels = inputs["labels_1"] if "score_labels_1" in expected else inputs[expected["labels"]]
    scores = _d3dna_scores(d3dna_env, target, inputs[expected["tokens"]], inputs["sigma"], labels, tmp_path)
    wanted = expected.get("score_labels_1", expected["score"])
    assert float((scores - wanted).abs().max()) <= 1e-5


@pytest.mark.slow
def test_d3dnas_own_loader_opens_an_exported_d3_tran(d3dna, d3dna_env, d3_register, d3_train_smoke, d3_run_cli,
                                                     d3_tiny_batch, tmp_path):
    import d3core

    checkpoint = _tran_run(d3_register, d3_train_smoke)
    with pytest.warns(UserWarning):
        target = _converted(d3_run_cli, Path(checkpoint), tmp_path)
    tokens, labels, sigma = d3_tiny_batch(num_labels=1)
    ours, _, _ = d3core.load_model_local(checkpoint)
    with torch.no_grad():
        expected = ours(tokens, labels, sigma)
    assert float((_d3dna_scores(d3dna_env, target, tokens, sigma, labels, tmp_path) - expected).abs().max()) <= 1e-5
