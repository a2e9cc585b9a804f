"""``d3 convert`` (file, run directory, tree) and ``d3 checkpoint info|verify`` as a user runs them."""
from __future__ import annotations

import json
import os
import shutil

import torch


def _zoo(root, legacy_run, lightning_ckpt):
    """A model zoo: an original run directory, a Lightning file, and files that are not checkpoints."""
    run = root / "deepstarr" / "Tran"
    (run / "hydra").mkdir(parents=True)
    shutil.copy(legacy_run / "hydra" / "config.yaml", run / "hydra" / "config.yaml")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "checkpoint.pth").symlink_to(legacy_run / "checkpoints" / "checkpoint.pth")
    (root / "other").mkdir()
    (root / "other" / "model.ckpt").symlink_to(lightning_ckpt)
    (root / "notes.txt").write_text("not a checkpoint\n")
    return root


def test_convert_a_run_directory_and_skip_it_next_time(cli, legacy_run, tmp_path, reference):
    out = tmp_path / "converted"
    result = cli("convert", legacy_run, "--out", out)
    assert result.exit_code == 0, result.output
    target = out / "deepstarr_tran_tiny.ckpt"
    assert target.is_file() and f"{target}" in result.output and "converted (step 4321)" in result.output
    assert result.output.splitlines()[0].split() == ["source", "format", "target", "status"]
    assert "d3 convert: 1 converted, 0 skipped, 0 failed (to lightning)" in result.output
    assert [p.name for p in out.iterdir()] == ["deepstarr_tran_tiny.ckpt"]  # atomic: no temporary files left
    again = cli("convert", legacy_run, "--out", out)
    assert again.exit_code == 0 and "skipped: exists" in again.output
    forced = cli("convert", legacy_run, "--out", out, "--force")
    assert "converted" in forced.output
    from d3core.checkpoints import load_model_local

    model, _, _ = load_model_local(target)
    with torch.no_grad():
        out_ema = model(reference["indices"], reference["labels"], reference["sigma"])
    assert (out_ema - reference["out_ema_weights"]).abs().max().item() <= 1e-4


def test_convert_to_legacy_writes_a_run_directory(cli, lightning_ckpt, tmp_path):
    out = tmp_path / "for-the-original-code"
    result = cli("convert", lightning_ckpt, "--to", "legacy", "--out", out)
    assert result.exit_code == 0, result.output
    run = out / "deepstarr_tran_tiny"
    assert (run / "hydra" / "config.yaml").is_file() and (run / "checkpoints" / "checkpoint.pth").is_file()
    assert cli("convert", run, "--to", "pth", "--out", out).output.count("skipped: already legacy") == 1


def test_convert_a_file_inside_an_original_run_is_named_after_the_run(cli, legacy_run, tmp_path):
    result = cli("convert", legacy_run / "checkpoints" / "checkpoint.pth", "--out", tmp_path / "o")
    assert result.exit_code == 0 and (tmp_path / "o" / "deepstarr_tran_tiny.ckpt").is_file()


def test_recursive_dry_run_then_conversion_mirrors_the_tree(cli, legacy_run, lightning_ckpt, tmp_path):
    zoo = _zoo(tmp_path / "zoo", legacy_run, lightning_ckpt)
    out = tmp_path / "zoo-lightning"
    dry = cli("convert", zoo, "--recursive", "--out", out, "--dry_run")
    assert dry.exit_code == 0, dry.output
    assert "would convert" in dry.output and "skipped: already lightning" in dry.output
    assert "d3 convert: 1 would convert, 1 skipped, 0 failed" in dry.output
    assert not out.exists()
    done = cli("convert", zoo, "-r", "--out", out)
    assert done.exit_code == 0, done.output
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["deepstarr/Tran.ckpt"]
    legacy_zoo = cli("convert", zoo, "--recursive", "--to", "legacy", "--out", tmp_path / "zoo-legacy")
    assert legacy_zoo.exit_code == 0, legacy_zoo.output
    assert (tmp_path / "zoo-legacy" / "other" / "model" / "checkpoints" / "checkpoint.pth").is_file()
    assert "skipped: already legacy" in legacy_zoo.output
    inside = cli("convert", zoo, "-r", "--out", zoo / "converted")  # an output folder inside the tree is not walked
    assert inside.exit_code == 0 and "d3 convert: 1 converted, 1 skipped" in inside.output
    assert "converted/" not in "".join(line.split()[0] for line in inside.output.splitlines()[2:-1])


def test_recursive_reports_broken_files_and_exits_2(cli, legacy_run, lightning_ckpt, tmp_path):
    zoo = _zoo(tmp_path / "zoo", legacy_run, lightning_ckpt)
    (zoo / "broken.pth").write_bytes(bytes(range(256)) * 8)
    result = cli("convert", zoo, "--recursive", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "failed: " in result.output and "broken.pth" in result.output
    assert (tmp_path / "out" / "deepstarr" / "Tran.ckpt").is_file()  # the rest was still converted


def test_convert_user_errors(cli, legacy_run, tmp_path):
    result = cli("convert", legacy_run, "--to", "onnx")
    assert result.exit_code == 2 and "unknown checkpoint format 'onnx'" in result.output
    (tmp_path / "empty").mkdir()
    result = cli("convert", tmp_path / "empty", "--recursive")
    assert result.exit_code == 2 and "no checkpoints found" in result.output


def test_checkpoint_info(cli, legacy_run, lightning_ckpt):
    result = cli("checkpoint", "info", legacy_run)
    assert result.exit_code == 0, result.output
    text = result.output
    for line in ("format:       legacy", "architecture: Tran", "dataset:      deepstarr", "step:         4,321",
                 "parameters:   138,820", "precision:    auto (bf16-mixed on CUDA, else 32-true)"):
        assert line in text, line
    assert "13,335,354 in unused modules" in text and "tower decided by optimizer moments" in text
    facts = json.loads(cli("checkpoint", "info", lightning_ckpt, "--json").output)
    assert facts["format"] == "lightning" and facts["step"] == 4321 and facts["parameters"] == 138820
    assert facts["architecture"] == "Tran" and facts["model"]["hidden_size"] == 64


def test_checkpoint_verify_passes_and_fails_per_check(cli, legacy_run, lightning_ckpt):
    result = cli("checkpoint", "verify", legacy_run)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[:7]] == ["PASS"] * 7
    assert "bit-exact" in result.output and "d3 checkpoint verify: 7 of 7 checks passed" in result.output
    assert cli("checkpoint", "verify", lightning_ckpt).exit_code == 0  # through the legacy format
    refused = cli("checkpoint", "verify", legacy_run, "--tolerance", "-1")  # a tolerance below 0 is a typo
    assert refused.exit_code == 2 and "--tolerance" in refused.output
    # a check that fails (a tolerance no output can meet) is reported per check, exit code 1
    from d3core.checkpoints.verify import FAIL, verify_checkpoint
    from d3core.cli.checkpoint import report_checks
    from d3core.plugins import make_plugin_manager

    results = verify_checkpoint(legacy_run, make_plugin_manager(env={}), tolerance=-1.0)
    assert [c.title for c in results if c.status == FAIL] == ["outputs"]
    assert report_checks(results) is True


def test_verify_a_conv_tiny_run_reports_the_original_format_as_not_applicable(cli, tmp_path):
    """A Conv tiny run (what make demo trains) is healthy; the original format's convolution is hard-wired to 256
    channels, so the conversion and the checks after it are N/A, with the reason -- not a failure."""
    from d3_deepstarr.dataset import DeepSTARR

    data = tmp_path / "ds.h5"
    DeepSTARR().synthesize(data, 64, seed=1)
    trained = cli("train", "--dataset", "deepstarr", "--arch", "Conv", "--preset", "tiny", "--data", data,
                  "--work_dir", tmp_path / "run", "--max_steps", "1", "--batch_size", "16", "--accelerator", "cpu",
                  "--logger", "csv")
    assert trained.exit_code == 0, trained.output
    result = cli("checkpoint", "verify", tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[:7]] == ["PASS"] * 3 + ["N/A"] * 4
    assert "legacy: the original D3 convolutional network is hard-wired to channels=256" in lines[3]
    assert "d3 checkpoint verify: 3 of 7 checks passed, 4 not applicable" in result.output
    asked = cli("checkpoint", "verify", tmp_path / "run", "--to", "legacy")
    assert asked.exit_code == 0 and "N/A   convert" in asked.output
    refused = cli("convert", tmp_path / "run", "--to", "legacy", "--out", tmp_path / "original")
    assert refused.exit_code == 2 and "hard-wired to channels=256" in refused.output


def test_recursive_conversion_reads_each_file_once(cli, legacy_run, lightning_ckpt, tmp_path, monkeypatch):
    """Detecting a file's format, naming its target and loading it share one read (each format's ``detect`` used
    to read the file again, and the conversion once more: up to four reads of every checkpoint of a model zoo)."""
    from d3core.checkpoints import safe_load

    zoo = _zoo(tmp_path / "zoo", legacy_run, lightning_ckpt)
    d3_run = zoo / "my-d3-run"  # a d3 train run directory: descended into, each .ckpt converted
    (d3_run / "checkpoints").mkdir(parents=True)
    (d3_run / "config.yaml").write_text("arch: Tran\n")
    for name in ("last.ckpt", "step=4-val_loss=1.0000.ckpt"):
        shutil.copy(lightning_ckpt, d3_run / "checkpoints" / name)
    (zoo / "broken.pth").write_bytes(bytes(range(256)) * 8)
    reads: dict[str, int] = {}
    original = safe_load.read_torch_file

    def counting(path, **kwargs):
        real = os.path.realpath(path)
        reads[real] = reads.get(real, 0) + 1
        return original(path, **kwargs)

    monkeypatch.setattr(safe_load, "read_torch_file", counting)
    for to, files in (("legacy", 4), ("lightning", 5)):  # the original run is read only to be converted
        reads.clear()
        result = cli("convert", zoo, "--recursive", "--to", to, "--out", tmp_path / f"out-{to}")
        assert "converted (step 4321)" in result.output, result.output
        assert "broken.pth" in result.output and result.exit_code == 2  # the broken file is reported, read once
        assert len(reads) == files and set(reads.values()) == {1}, reads
