"""``lightning.ddp_timeout_s``: the process-group timeout of NCCL/gloo collectives reaches Lightning's strategy."""
from __future__ import annotations

from datetime import timedelta

import pytest

from d3core.config import ConfigSources
from d3core.training import plan_run
from d3core.training.trainer import build_trainer, trainer_kwargs


def _plan(deepstarr_file, tmp_path, *overrides: str):
    return plan_run(ConfigSources(
        flags={"dataset": "deepstarr", "arch": "Conv", "preset": "tiny", "data.path": str(deepstarr_file),
               "work_dir": str(tmp_path / "run"), "lightning.accelerator": "cpu", "lightning.devices": 2},
        overrides=list(overrides)))


def test_the_ddp_strategy_gets_the_configured_timeout(deepstarr_file, tmp_path):
    from pytorch_lightning.strategies import DDPStrategy

    plan = _plan(deepstarr_file, tmp_path, "lightning.ddp_timeout_s=90", "lightning.strategy=ddp")
    trainer = build_trainer(plan)
    assert isinstance(trainer.strategy, DDPStrategy) and trainer.strategy._timeout == timedelta(seconds=90)
    assert trainer.strategy._start_method == "popen"  # the registered 'ddp' settings are kept


@pytest.mark.parametrize("overrides, expected", [((), "ddp"), (("lightning.devices=1",), "auto")])
def test_without_the_key_or_without_ddp_the_strategy_is_the_name(deepstarr_file, tmp_path, overrides, expected):
    if overrides:  # one process: nothing waits for other ranks, the timeout does not apply
        overrides = (*overrides, "lightning.ddp_timeout_s=90")
    assert trainer_kwargs(_plan(deepstarr_file, tmp_path, *overrides))["strategy"] == expected
