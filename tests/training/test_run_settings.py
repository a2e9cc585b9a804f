"""The run's trainer settings are resolved once (one look at CUDA, one parse of ``lightning.devices``) into a frozen
``RunSettings`` that the plan, the Trainer's arguments, the data batches and the notes all read."""
from __future__ import annotations

import dataclasses

import pytest

from d3core.config import ConfigSources
from d3core.training import plan_run, run_settings
from d3core.training.trainer import trainer_kwargs


def _plan(deepstarr_file, tmp_path, *overrides: str):
    return plan_run(ConfigSources(
        flags={"dataset": "deepstarr", "arch": "Conv", "preset": "tiny", "data.path": str(deepstarr_file),
               "work_dir": str(tmp_path / "run"), "lightning.accelerator": "cpu", "lightning.devices": "0,1"},
        overrides=list(overrides)))


def test_planning_and_building_the_trainer_resolve_the_settings_once(deepstarr_file, tmp_path, monkeypatch):
    looks, parses = [], []
    cuda_here, parse_devices = run_settings._cuda_here, run_settings.parse_devices
    monkeypatch.setattr(run_settings, "_cuda_here", lambda: looks.append(1) or cuda_here())
    monkeypatch.setattr(run_settings, "parse_devices", lambda value: parses.append(value) or parse_devices(value))
    plan = _plan(deepstarr_file, tmp_path, "training.batch_size=16", "training.accum=2", "eval.batch_size=10")
    kwargs = trainer_kwargs(plan)
    assert len(looks) == 1 and len(parses) == 1
    settings = plan.settings
    assert (settings.world_size, settings.per_device_batch, settings.per_device_eval_batch) == (2, 4, 5)
    assert kwargs["devices"] == [0, 1] and kwargs["accelerator"] == "cpu" and kwargs["strategy"] == "ddp"
    assert kwargs["precision"] == settings.precision.value == "32-true"
    assert settings.compile.reason.startswith("auto:")  # chosen by the plan, not left at "not chosen yet"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.world_size = 1
