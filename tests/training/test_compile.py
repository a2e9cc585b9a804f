"""``training.compile`` / ``--compile``: the auto rule, clear refusals where torch.compile cannot run, and (slow) a
real compiled run whose checkpoints resume with compile off and on."""
from __future__ import annotations

import shutil

import pytest
import torch

from d3core.errors import D3UserError
from d3core.config import compile_setting
from d3core.training import compile as compile_rule
from d3core.training.compile import backend_problem, choose_compile

TINY, PAPER = 138_884, 92_389_124


def test_auto_trains_eager_where_compiling_has_not_measured_faster(monkeypatch):
    monkeypatch.setenv("CXX", shutil.which("sh"))  # any executable stands for the compiler in the lookup
    for device in ("cpu", "cuda", "mps"):  # the CPU measured no faster; the others are unmeasured
        for size in (TINY, PAPER):
            choice = choose_compile("auto", device, lambda: size)
            assert not choice.enabled and f"has not measured faster on {device}" in choice.reason
    assert choose_compile(True, "cpu", lambda: TINY).enabled and choose_compile(True, "mps", lambda: TINY).enabled


def test_auto_follows_a_measured_rule(monkeypatch):
    """What a measurement that shows a gain turns on (e.g. ``AUTO_COMPILES["cuda"] = 50_000_000``)."""
    monkeypatch.setenv("CXX", shutil.which("sh"))
    monkeypatch.setitem(compile_rule.AUTO_COMPILES, "cpu", 50_000_000)
    assert choose_compile("auto", "cpu", lambda: PAPER).enabled
    assert choose_compile("auto", "cpu", lambda: 50_000_000).enabled
    small = choose_compile("auto", "cpu", lambda: 13_400_857)
    assert not small.enabled and "13.4 M parameters, below the 50 M from which compiling measured faster" in small.reason
    assert not choose_compile("auto", "mps", lambda: PAPER).enabled
    assert not choose_compile(False, "cpu", lambda: PAPER).enabled
    assert not choose_compile("false", "cuda", lambda: PAPER).enabled


def test_parameters_are_counted_only_for_auto():
    def never() -> int:
        raise AssertionError("counted")

    assert choose_compile(False, "cpu", never).reason == "training.compile=false"


def test_settings_are_auto_true_or_false():
    assert [compile_setting(v) for v in ("auto", "AUTO", True, False, "true", "off")] == [
        "auto", "auto", True, False, True, False]
    for bad in ("maybe", 1, None):
        with pytest.raises(D3UserError, match="must be auto, true or false"):
            compile_setting(bad)


def test_without_a_cxx_compiler_true_is_refused_and_auto_falls_back(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    assert "/nonexistent/g++, which is not on PATH" in backend_problem("cpu")
    with pytest.raises(D3UserError, match=r"training.compile=true \(--compile\) but torch.compile cannot run here: "
                                          r".*install a C\+\+ compiler.* or train with --no-compile"):
        choose_compile(True, "cpu", lambda: TINY)
    monkeypatch.setitem(compile_rule.AUTO_COMPILES, "cpu", 50_000_000)  # where auto would compile
    fallback = choose_compile("auto", "cpu", lambda: PAPER)
    assert not fallback.enabled and "cannot run here" in fallback.reason


def test_cli_refuses_compile_without_a_compiler(d3_cli, tiny_args, tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "run", "--max_steps", "2", "--compile")
    assert result.exit_code == 2, result.output
    assert "torch.compile cannot run here" in result.output and "--no-compile" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_dry_run_reports_the_choice(d3_cli, tiny_args, tmp_path, monkeypatch):
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "never", "--dry-run")
    assert "#   compile      off (auto: compiling has not measured faster on cpu" in result.output, result.output
    monkeypatch.setitem(compile_rule.AUTO_COMPILES, "cpu", 50_000_000)  # where auto would compile
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    at = tiny_args.index("--preset")
    paper = d3_cli("train", *tiny_args[:at], *tiny_args[at + 2:], "--work_dir", tmp_path / "never", "--dry-run")
    assert "#   compile      off (auto: torch.compile cannot run here" in paper.output, paper.output
    assert "# note: training.compile=auto: torch.compile cannot run here" in paper.output
    forced = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "never", "--dry-run", "--no-compile")
    assert "#   compile      off (training.compile=false)" in forced.output


def _names(path) -> list[str]:
    checkpoint = torch.load(path, weights_only=True)
    return sorted([*checkpoint["state_dict"], *checkpoint["d3_ema"]["shadow"]])


@pytest.mark.slow
@pytest.mark.skipif(backend_problem("cpu") is not None, reason="torch.compile cannot run on this CPU")
def test_compiled_training_resumes_with_compile_off_and_on(d3_cli, tiny_args, tmp_path):
    """Eager 3 steps -> resumed compiled to 5 -> resumed eager to 6 (one compilation, of a one-block network)."""
    args = [*tiny_args, "--logger", "csv", "model.n_blocks=1"]
    run = tmp_path / "run"
    last = run / "checkpoints" / "last.ckpt"
    assert d3_cli("train", *args, "--work_dir", run, "--max_steps", "3", "--no-compile").exit_code == 0
    eager_names = _names(last)
    compiled = d3_cli("train", "--work_dir", run, "--resume_from", "last", "--max_steps", "5", "--compile")
    assert compiled.exit_code == 0, compiled.output
    assert "compiling the score network with torch.compile" in compiled.output
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == 5 and _names(last) == eager_names  # no _orig_mod. anywhere
    assert not any("_orig_mod" in key for key in str(checkpoint.keys()) + str(checkpoint["d3_config"]))
    moments = checkpoint["optimizer_states"][0]
    assert {int(s["step"]) for s in moments["state"].values()} == {5}  # AdamW continued across the switch
    assert all(g["fused"] is None and g["foreach"] is None for g in moments["param_groups"])  # device-neutral
    eager = d3_cli("train", "--work_dir", run, "--resume_from", "last", "--max_steps", "6", "--no-compile")
    assert eager.exit_code == 0, eager.output
    after = torch.load(last, weights_only=True)
    assert after["global_step"] == 6 and after["d3_ema"]["num_updates"] == 6
    assert all(torch.isfinite(v).all() for v in after["state_dict"].values())
