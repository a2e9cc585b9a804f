"""``d3 train`` as a user runs it: run directory, checkpoints, dry run, and the errors a user can fix."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf


def test_train_writes_a_complete_run_directory(finished_tiny_run):
    run, output = finished_tiny_run  # d3 train --max_steps 20 --logger csv, shared by the tests that need a run
    assert "d3: finished at step 20" in output
    config = OmegaConf.load(run / "config.yaml")
    assert config.dataset == "deepstarr" and config.arch == "Tran" and config.model.hidden_size == 64
    assert config.model.length == 249 and config.model.num_labels == 2 and config.training.max_steps == 20
    plugins = (run / "plugins.txt").read_text().splitlines()
    assert "d3-arch-tran==0.1.0" in plugins and "d3-deepstarr==0.1.0" in plugins
    assert any(line.startswith("d3core==") for line in plugins)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last.ckpt" in names and "step=10-val_loss=" in " ".join(names) and "step=20-val_loss=" in " ".join(names)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 20
    assert checkpoint["d3_config"]["model"]["hidden_size"] == 64
    ema = checkpoint["d3_ema"]
    assert ema["num_updates"] == 20 and set(ema["shadow"]) == {
        k[len("model."):] for k in checkpoint["state_dict"] if k.startswith("model.") and "inv_freq" not in k}
    metrics = (run / "csv" / "metrics.csv").read_text()
    assert "train_loss" in metrics and "val_loss" in metrics and "lr" in metrics


def test_dry_run_reports_config_plugins_and_size(d3_cli, tiny_args, tmp_path):
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "never", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "# resolved config" in result.output and "hidden_size: 64" in result.output
    assert "d3-arch-tran==0.1.0" in result.output
    assert "# model: Tran preset tiny, 138,884 parameters" in result.output  # 138,820 + the null embedding [64]
    assert "#   precision    32-true" in result.output
    assert not (tmp_path / "never").exists()


def test_paper_preset_size_in_dry_run(d3_cli, tiny_args, tmp_path):
    at = tiny_args.index("--preset")
    args = tiny_args[:at] + tiny_args[at + 2:]  # no preset: the default is paper
    result = d3_cli("train", *args, "--dry_run")
    assert "92,389,892 parameters" in result.output  # 92,389,124 + the null embedding [768] of label dropout


@pytest.mark.parametrize("extra,message", [
    (["optim.lrr=1"], "unknown config key 'optim.lrr'; did you mean 'optim.lr'?"),
    (["training.batch_size=abc"], "training.batch_size='abc' must be an integer"),
    (["--batch_size", "15", "training.accum=2"], "must divide by devices x nodes x accum = 1 x 2"),
    (["--arch", "Trans"], "unknown architecture 'Trans'; did you mean 'Tran'?"),
    (["--preset", "huge"], "unknown preset 'huge' for architecture Tran"),
    (["--data", "/nonexistent/ds.h5"], "deepstarr data not found at /nonexistent/ds.h5"),
    (["graph.type=magic"], "graph.type='magic' is not one of: uniform, absorbing"),
])
def test_user_errors_exit_2_before_training(d3_cli, tiny_args, tmp_path, extra, message):
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "run", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_existing_run_directory_is_refused(d3_cli, tiny_args, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("precious: true\n")
    result = d3_cli("train", *tiny_args, "--work_dir", tmp_path / "run", "--max_steps", "2")
    assert result.exit_code == 2 and "already exists" in result.output and "--resume_from last" in result.output
    assert (tmp_path / "run" / "config.yaml").read_text() == "precious: true\n"


def test_config_path_values_are_not_overridden_by_click_defaults(d3_cli, tiny_args, tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text("lightning:\n  checkpoint:\n    save_top_k: 1\n  precision: 32-true\n"
                        "training:\n  max_steps: 7\n")
    result = d3_cli("train", *tiny_args, "--config_path", settings, "--dry_run")
    assert result.exit_code == 0, result.output
    config = OmegaConf.create(result.output.split("# plugins")[0].replace("# resolved config", ""))
    assert config.training.max_steps == 7 and config.lightning.checkpoint.save_top_k == 1
    overridden = d3_cli("train", *tiny_args, "--config_path", settings, "--max_steps", "9", "--dry_run")
    assert "max_steps: 9" in overridden.output


def test_shipped_lightning_config_is_valid(d3_cli, tiny_args):
    from pathlib import Path

    shipped = Path(__file__).parents[2] / "configs" / "lightning_config.yaml"
    result = d3_cli("train", *tiny_args, "--config_path", shipped, "--dry_run")
    assert result.exit_code == 0, result.output


def test_user_callback_by_module_and_class(d3_cli, tiny_args, tmp_path, monkeypatch):
    (tmp_path / "my_callbacks.py").write_text(
        "import pytorch_lightning as pl\n"
        "class CountSteps(pl.Callback):\n"
        "    def on_train_end(self, trainer, module):\n"
        "        open(trainer.default_root_dir + '/steps.txt', 'w').write(str(trainer.global_step))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "3", "--callback", "my_callbacks:CountSteps",
                    "--callback", "lr_monitor")
    assert result.exit_code == 0, result.output
    assert (run / "steps.txt").read_text() == "3"


def test_fast_dev_run_trains_one_batch_and_writes_nothing(d3_cli, tiny_args, tmp_path):
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--fast-dev-run")
    assert result.exit_code == 0, result.output
    assert "d3: fast dev run passed (one training and one validation batch, step 1)" in result.output
    assert not run.exists()


def test_trainer_settings_follow_the_config(tiny_args, deepstarr_file, tmp_path):
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from d3core.config import ConfigSources
    from d3core.training import plan_run, trainer_kwargs

    sources = ConfigSources(flags={"dataset": "deepstarr", "arch": "Conv", "preset": "tiny",
                                   "data.path": str(deepstarr_file), "work_dir": str(tmp_path / "run")},
                            overrides=["training.early_stopping_patience=4", "training.accum=2",
                                       "training.batch_size=64", "lightning.checkpoint.save_top_k=1",
                                       "training.val_check_interval=0.5", "optim.grad_clip=0"])
    kwargs = trainer_kwargs(plan_run(sources))
    stoppers = [c for c in kwargs["callbacks"] if isinstance(c, EarlyStopping)]
    assert len(stoppers) == 1 and stoppers[0].patience == 4
    (best,) = [c for c in kwargs["callbacks"] if isinstance(c, ModelCheckpoint)]
    assert best.save_top_k == 1 and best.save_last and best.monitor == "val_loss"
    assert kwargs["accumulate_grad_batches"] == 2 and kwargs["gradient_clip_val"] is None
    assert kwargs["val_check_interval"] == 0.5 and kwargs["check_val_every_n_epoch"] == 1
    assert kwargs["precision"] == "32-true" and kwargs["strategy"] == "auto"
