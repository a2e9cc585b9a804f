"""An original D3 ``config.yaml`` as ``d3 train --config_path``: the checkpoint-format plugin that knows the original
layout (d3-ckpt-legacy, through its format's ``config_from_file``) translates its keys; without that plugin the file
is refused with a message naming the translation."""
from __future__ import annotations

import pytest
import yaml
from omegaconf import OmegaConf


@pytest.fixture
def original_config(legacy_run, tmp_path):
    """The fixture run's original config.yaml with values unlike d3's defaults."""
    config = yaml.safe_load((legacy_run / "hydra" / "config.yaml").read_text())
    config["ngpus"] = 4
    config["training"].update(n_iters=1234, eval_freq=77, batch_size=32, ema=0.999, log_freq=123,
                              snapshot_freq_for_preemption=500)
    config["optim"].update(lr=1e-3, warmup=11)
    config["graph"]["type"] = "absorb"
    path = tmp_path / "hydra-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def data(tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path / "ds.h5"
    DeepSTARR().synthesize(path, 64, seed=1)
    return path


def _resolved(output: str):
    return OmegaConf.create(output.split("# plugins")[0].replace("# resolved config", ""))


def test_an_original_config_is_translated(cli, original_config, data):
    result = cli("train", "--arch", "Tran", "--data", data, "--config_path", original_config, "--dry_run")
    assert result.exit_code == 0, result.output
    config = _resolved(result.output)
    assert config.dataset == "deepstarr" and config.preset == "tiny"  # data.train; the transformer sizes' preset
    assert config.training.max_steps == 1234 and config.training.val_check_interval == 77
    assert config.training.batch_size == 32 and config.training.ema == 0.999
    assert config.optim.lr == 1e-3 and config.optim.warmup == 11 and config.graph.type == "absorbing"
    assert config.lightning.logging.log_every_n_steps == 123
    assert config.lightning.checkpoint.every_n_train_steps == 500
    assert config.model.hidden_size == 64 and config.model.n_heads == 4 and config.model.cond_dim == 32
    assert config.lightning.devices == "auto"  # ngpus: 4 is not taken (--gpus N says where the run goes)
    assert f"# note: --config_path {original_config} is not a d3 config: checkpoint format legacy read it" \
        in result.output
    conv = cli("train", "--arch", "Conv", "--data", data, "--config_path", original_config, "--dry_run")
    assert conv.exit_code == 0, conv.output
    assert _resolved(conv.output).model.channels == 256  # the original convolution's hard-wired size (paper)


def test_training_with_an_original_config(cli, original_config, data, tmp_path):
    result = cli("train", "--arch", "Tran", "--data", data, "--config_path", original_config, "--work_dir",
                 tmp_path / "run", "--max_steps", "2", "--accelerator", "cpu", "--batch_size", "16", "--logger", "csv",
                 "eval.batch_size=16")
    assert result.exit_code == 0, result.output
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert saved.optim.lr == 1e-3 and saved.training.max_steps == 2  # flags still win over the file


def test_without_the_plugin_the_file_is_refused_naming_the_translation(run_d3, original_config, data):
    result = run_d3("train", "--dataset", "deepstarr", "--arch", "Tran", "--data", str(data), "--config_path",
                    str(original_config), "--dry_run", D3_DISABLE_PLUGINS="d3-ckpt-legacy")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown config key 'ngpus'" in result.stderr and "pip install d3-ckpt-legacy" in result.stderr


def test_a_d3_config_with_a_typo_is_not_taken_for_an_original_one(cli, data, tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("model:\n  hidden_size: 64\ntraining:\n  n_iter: 5\n")
    result = cli("train", "--arch", "Tran", "--dataset", "deepstarr", "--data", data, "--config_path", typo,
                 "--dry_run")
    assert result.exit_code == 2 and "unknown config key 'training.n_iter'" in result.output
