"""One early stopping, configured once, whichever way it is asked for: ``--early_stopping_patience N``,
``--callback early_stopping`` (patience 10 while the key is 0, "off"), or both.

The runs train with a learning rate too small to change a float32 weight, so the validation loss is exactly the same
at every validation: a patience of P stops the run after P + 1 validations, at step (P + 1) x the interval (1).
"""
from __future__ import annotations

import pytest

from d3core.builtin.callbacks import DEFAULT_PATIENCE

INTERVAL = 1
FROZEN = ["--val_check_interval", str(INTERVAL), "--max_steps", "200", "--logger", "csv", "optim.lr=1e-30"]


@pytest.mark.parametrize("asked,patience", [
    (["--early_stopping_patience", "3", "--callback", "early_stopping"], 3),
    (["--callback", "early_stopping", "--callback", "Early-Stopping"], DEFAULT_PATIENCE),
])
def test_early_stopping_stops_after_its_patience(d3_cli, tiny_args, tmp_path, asked, patience):
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "run", *FROZEN, *asked)
    assert result.exit_code == 0, result.output
    assert f"d3: finished at step {(patience + 1) * INTERVAL}\n" in result.output


def test_patience_flag_and_callback_together_in_a_fast_dev_run(d3_cli, tiny_args, tmp_path):
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "run", "--early_stopping_patience", "3",
                    "--callback", "early_stopping", "--fast_dev_run")
    assert result.exit_code == 0, result.output
    assert "fast dev run passed" in result.output


def test_one_early_stopping_callback_in_the_trainer(tiny_args, deepstarr_file, tmp_path):
    from pytorch_lightning.callbacks import EarlyStopping

    from d3core.config import ConfigSources
    from d3core.training import plan_run, trainer_kwargs

    def stoppers(callbacks: list[str], patience: int) -> list:
        sources = ConfigSources(flags={"dataset": "deepstarr", "arch": "Tran", "preset": "tiny",
                                       "data.path": str(deepstarr_file), "work_dir": str(tmp_path / "run"),
                                       "callbacks": callbacks, "training.early_stopping_patience": patience})
        return [c for c in trainer_kwargs(plan_run(sources))["callbacks"] if isinstance(c, EarlyStopping)]

    assert stoppers([], 0) == []  # 0 = off
    assert [s.patience for s in stoppers(["early_stopping"], 4)] == [4]
    assert [s.patience for s in stoppers(["early_stopping", "d3core.builtin.callbacks:early_stopping"], 0)] == [10]
    assert [s.patience for s in stoppers([], 5)] == [5]


def test_two_stateful_callbacks_of_one_kind_are_one_clear_error(d3_cli, tiny_args, tmp_path):
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "run", "--max_steps", "2",
                    "--callback", "pytorch_lightning.callbacks:Timer",
                    "--callback", "pytorch_lightning.callbacks.timer:Timer")
    assert result.exit_code == 2, result.output
    assert "are two Timers with the same checkpoint state; keep one of them" in result.output
    assert not (tmp_path / "run").exists()
