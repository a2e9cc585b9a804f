"""Format detection by content: original run directories in every layout, lone .pth files, Lightning .ckpt."""
from __future__ import annotations

import shutil

import pytest

from d3_ckpt_legacy.run_dir import is_original_checkpoint, original_run_checkpoints

from d3core.checkpoints import detect_format, load_bundle
from d3core.errors import D3UserError


def _copy_run(legacy_run, tmp_path, *, config_dir="hydra", checkpoint="checkpoints/checkpoint.pth"):
    run = tmp_path / "run"
    (run / config_dir).mkdir(parents=True)
    shutil.copy(legacy_run / "hydra" / "config.yaml", run / config_dir / "config.yaml")
    (run / checkpoint).parent.mkdir(parents=True, exist_ok=True)
    (run / checkpoint).symlink_to(legacy_run / "checkpoints" / "checkpoint.pth")
    return run


@pytest.mark.parametrize("config_dir", ["hydra", ".hydra"])
@pytest.mark.parametrize("checkpoint", ["checkpoints/checkpoint.pth", "checkpoints/checkpoint_20.pth",
                                        "checkpoints-meta/checkpoint.pth"])
def test_original_run_directories_in_every_layout(legacy_run, tmp_path, config_dir, checkpoint):
    run = _copy_run(legacy_run, tmp_path, config_dir=config_dir, checkpoint=checkpoint)
    assert is_original_checkpoint(run)
    assert detect_format(run)[0] == "legacy"
    assert original_run_checkpoints(run) == [run / checkpoint]


def test_checkpoint_preference_inside_a_run(legacy_run, tmp_path):
    run = _copy_run(legacy_run, tmp_path, checkpoint="checkpoints-meta/checkpoint.pth")
    (run / "checkpoints").mkdir()
    for name in ("checkpoint_2.pth", "checkpoint_10.pth", "checkpoint.pth"):
        (run / "checkpoints" / name).symlink_to(legacy_run / "checkpoints" / "checkpoint.pth")
    order = [str(p.relative_to(run)) for p in original_run_checkpoints(run)]
    assert order == ["checkpoints/checkpoint.pth", "checkpoints/checkpoint_10.pth", "checkpoints/checkpoint_2.pth",
                     "checkpoints-meta/checkpoint.pth"]


def test_lone_pth_and_lightning_files(legacy_run, lightning_ckpt):
    pth = legacy_run / "checkpoints" / "checkpoint.pth"
    assert is_original_checkpoint(pth) and detect_format(pth)[0] == "legacy"
    assert not is_original_checkpoint(lightning_ckpt)
    assert detect_format(lightning_ckpt)[0] == "lightning"
    assert not is_original_checkpoint(legacy_run / "hydra" / "config.yaml")
    assert not is_original_checkpoint(legacy_run / "hydra")


def test_not_a_checkpoint(tmp_path, legacy_run):
    (tmp_path / "empty").mkdir()
    with pytest.raises(D3UserError, match="no installed checkpoint format recognises it"):
        detect_format(tmp_path / "empty")
    with pytest.raises(D3UserError, match="no such checkpoint"):
        detect_format(tmp_path / "missing.pth")
    with pytest.raises(D3UserError, match="missing.pth: no such checkpoint file or run directory"):
        is_original_checkpoint(tmp_path / "missing.pth")  # a typo is an error, not the answer "no"
    only_config = tmp_path / "half-run"
    (only_config / "hydra").mkdir(parents=True)
    shutil.copy(legacy_run / "hydra" / "config.yaml", only_config / "hydra" / "config.yaml")
    assert not is_original_checkpoint(only_config)


def test_lone_pth_takes_its_config_from_the_flag_or_the_neighbourhood(legacy_run, tmp_path, cli):
    alone = tmp_path / "downloads" / "checkpoint_deepstarr_tran.pth"
    alone.parent.mkdir()
    alone.symlink_to(legacy_run / "checkpoints" / "checkpoint.pth")
    assert detect_format(alone)[0] == "legacy"  # detected by content...
    with pytest.raises(D3UserError, match="--legacy_config"):  # ...but the run's config is needed to load it
        load_bundle(alone)
    result = cli("checkpoint", "info", alone)
    assert result.exit_code == 2 and "--legacy_config" in result.output
    _, bundle = load_bundle(alone, config=legacy_run / "hydra" / "config.yaml")
    assert bundle.architecture == "Tran" and bundle.step == 4321
    result = cli("checkpoint", "info", alone, "--legacy-config", legacy_run / "hydra" / "config.yaml")
    assert result.exit_code == 0 and "Tran" in result.output
    # <dir>/../hydra/config.yaml (the file inside the original run's checkpoints/ folder) is found on its own
    assert load_bundle(legacy_run / "checkpoints" / "checkpoint.pth")[1].step == 4321


def test_without_the_legacy_plugin_the_core_does_not_know_original_runs(legacy_run):
    """The original layout lives in d3-ckpt-legacy: with it disabled, an original run is nobody's checkpoint."""
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_DISABLE_PLUGINS": "d3-ckpt-legacy"})
    assert "legacy" not in manager.registry("checkpoint_formats")
    for path in (legacy_run, legacy_run / "checkpoints" / "checkpoint.pth"):
        with pytest.raises(D3UserError, match="no installed checkpoint format recognises it"):
            detect_format(path, manager)
