"""What a dry run, a fast dev run and ``--config_path configs/lightning_config.yaml`` promise, as a user runs them:
the dry run shows the trainer settings the real run will use there (or what this machine cannot know), the fast dev
run writes nothing and says so, and the shipped Lightning config changes what it says -- on the CPU too, with a note
where a setting does not apply."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from d3core.training.settings import cpu_has_native_bf16

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "configs" / "lightning_config.yaml"
D3 = Path(sys.executable).with_name("d3")
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="shows what a machine without a GPU can know")


def _resolved(output: str):
    return OmegaConf.create(output.split("# plugins")[0].replace("# resolved config", ""))


@no_gpu
def test_dry_run_for_gpus_shows_what_the_gpu_run_will_use(d3_cli, tiny_args):
    args = [a for a in tiny_args if a != "lightning.accelerator=cpu"]
    result = d3_cli("train", *args, "--gpus", "2", "--dry_run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "#   processes    2" in lines and "#   strategy     ddp" in lines
    assert "#   accelerator  gpu (no GPU visible here, so the GPUs themselves are not checked)" in lines
    precision = next(line for line in lines if line.startswith("#   precision"))
    assert precision.startswith("#   precision    bf16-mixed (auto: on GPUs with bf16") and "else 32-true" in precision
    every_gpu = d3_cli("train", *args, "--accelerator", "gpu", "--dry_run")
    assert "#   processes    one per GPU of the node (no GPU visible here to count)" in every_gpu.output
    assert "#   strategy     ddp (if the node has more than one GPU, else single device)" in every_gpu.output
    here = d3_cli("train", *tiny_args, "--dry_run")  # the same run on this CPU
    assert "#   strategy     auto (one process: a single device)" in here.output
    assert "#   precision    32-true" in here.output.splitlines()


def test_fast_dev_run_says_it_wrote_nothing(d3_cli, tiny_args, tmp_path):
    run = tmp_path / "r"
    result = d3_cli("train", *tiny_args, "--fast_dev_run", "--work_dir", run)
    assert result.exit_code == 0, result.output
    assert "nothing was written: no run directory, checkpoint or logs" in result.output
    assert "run directory (config.yaml" not in result.output and str(run) not in result.output
    assert not run.exists()


def test_dry_run_with_the_shipped_lightning_config(d3_cli, tiny_args):
    args = [a for a in tiny_args if not a.startswith("lightning.logging")]
    result = d3_cli("train", *args, "--config_path", SHIPPED, "--dry_run")
    assert result.exit_code == 0, result.output
    config = _resolved(result.output)
    assert config.lightning.precision == "bf16-mixed" and config.lightning.logging.log_every_n_steps == 1000
    assert config.lightning.checkpoint.save_top_k == 3 and config.lightning.checkpoint.monitor == "val_loss"
    assert config.lightning.performance.sync_batchnorm is True
    assert config.wandb.enabled is True and config.wandb.project == "d3-dna-diffusion" and config.wandb.entity is None
    assert "#   precision    bf16-mixed" in result.output.splitlines()
    assert "# note: lightning.performance.sync_batchnorm=true has no effect with one process" in result.output
    bf16_note = "bf16-mixed on a CPU without native bf16"
    assert (bf16_note in result.output) == (not cpu_has_native_bf16())
    several = d3_cli("train", *args, "--config_path", SHIPPED, "--devices", "2", "--dry_run")
    assert "sync_batchnorm=true has no effect: Tran has no BatchNorm layers" in several.output


PROBE = '''
import json
import pytorch_lightning as pl


class Probe(pl.Callback):
    """Records what the Trainer really runs with."""

    def on_train_end(self, trainer, module):
        best = trainer.checkpoint_callback
        wandb = [logger for logger in trainer.loggers if type(logger).__name__ == "WandbLogger"]
        facts = {"precision": trainer.precision, "log_every_n_steps": trainer.log_every_n_steps,
                 "save_top_k": best.save_top_k, "monitor": best.monitor,
                 "loggers": sorted(type(logger).__name__ for logger in trainer.loggers),
                 "wandb": {k: wandb[0]._wandb_init.get(k) for k in ("project", "entity")} if wandb else None}
        open("probe.json", "w").write(json.dumps(facts))
'''


def test_training_with_the_shipped_lightning_config_on_the_cpu(deepstarr_file, tmp_path):
    """The real command, on a machine without a W&B login: the settings reach the Trainer, W&B logs offline."""
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("D3_", "WANDB_"))}
    env.update(HOME=str(tmp_path / "home"), WANDB_SILENT="true")
    result = subprocess.run([str(D3), "train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny",
                             "--data", str(deepstarr_file), "--batch_size", "16", "--max_steps", "2",
                             "--val_check_interval", "2", "--work_dir", "run", "--config_path", str(SHIPPED),
                             "--callback", "probe:Probe", "eval.batch_size=32"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads((tmp_path / "probe.json").read_text())
    assert facts["precision"] == "bf16-mixed" and facts["log_every_n_steps"] == 1000
    assert facts["save_top_k"] == 3 and facts["monitor"] == "val_loss"
    assert facts["loggers"] == ["TensorBoardLogger", "WandbLogger"]
    assert facts["wandb"] == {"project": "d3-dna-diffusion", "entity": None}
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))  # offline: no login here
    notes = [line for line in result.stderr.splitlines() if line.startswith("d3: note: ")]
    assert any("no W&B login on this machine" in note and "wandb sync" in note for note in notes), notes
    assert any("sync_batchnorm=true has no effect with one process" in note for note in notes), notes
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert saved.lightning.precision == "bf16-mixed" and saved.lightning.performance.sync_batchnorm is True
