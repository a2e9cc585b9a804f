"""A checkpoint's own run config is checked like a typed one: an unknown noise type, graph type or a value out of
range is a one-line error naming the file and the key, never a silent default (a run trained with another noise
schedule would otherwise sample with the wrong one)."""
from __future__ import annotations

import shutil

import pytest
import torch
import yaml

from d3core.builtin.checkpoint_lightning import CONFIG_KEY
from d3core.checkpoints import build_diffusion, load_bundle, load_model_local
from d3core.errors import D3UserError


def _edited(lightning_ckpt, tmp_path, key: str, value, name: str = "edited.ckpt"):
    """A copy of the fixture checkpoint whose ``d3_config`` has ``key`` (dotted) set to ``value``."""
    content = torch.load(lightning_ckpt, weights_only=True)
    section, _, leaf = key.rpartition(".")
    target = content[CONFIG_KEY]
    for part in filter(None, section.split(".")):
        target = target[part]
    target[leaf] = value
    path = tmp_path / name
    torch.save(content, path)
    return path


@pytest.mark.parametrize("key, value, says", [
    ("noise.type", "cosine", "config noise.type='cosine' is not one of: geometric, loglinear"),
    ("graph.type", "masked", "config graph.type='masked' is not one of: uniform, absorbing"),
    ("sampling.predictor", "heun", "config sampling.predictor='heun' is not one of: analytic, euler, none"),
    ("noise.sigma_max", -3.0, "config noise.sigma_max=-3.0 must be a number > 0"),
    ("training.batch_size", "many", "config training.batch_size='many' must be an integer"),
])
def test_a_checkpoint_config_that_fails_the_checks_is_refused(lightning_ckpt, tmp_path, key, value, says):
    path = _edited(lightning_ckpt, tmp_path, key, value)
    with pytest.raises(D3UserError) as caught:
        load_bundle(path)
    message = str(caught.value)
    assert message.startswith(f"checkpoint {path}: its run config is invalid: ") and says in message
    assert "\n" not in message
    with pytest.raises(D3UserError, match=key):
        load_model_local(path)


def test_keys_d3_does_not_have_are_left_alone(lightning_ckpt, tmp_path):
    """A newer d3's or a plugin's key in a checkpoint is not this d3's business: the checkpoint still loads."""
    path = _edited(lightning_ckpt, tmp_path, "from_a_newer_d3", {"setting": 1})
    _, bundle = load_bundle(path)
    assert bundle.config["from_a_newer_d3"] == {"setting": 1}


def test_sampling_and_converting_an_edited_checkpoint_exit_2(cli, lightning_ckpt, tmp_path):
    path = _edited(lightning_ckpt, tmp_path, "noise.type", "cosine")
    for args in (("sample", path, "-o", tmp_path / "s.fasta", "--labels", "1,1", "--num", "2", "--steps", "2"),
                 ("convert", path, "--to", "legacy", "--out", tmp_path / "out"), ("checkpoint", "info", path)):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "its run config is invalid: config noise.type='cosine'" in result.output
    assert not (tmp_path / "s.fasta").exists() and not (tmp_path / "out").exists()


def test_resuming_an_edited_checkpoint_is_refused(cli, lightning_ckpt, tmp_path):
    path = _edited(lightning_ckpt, tmp_path, "noise.type", "cosine")
    result = cli("train", "--resume_from", path, "--work_dir", tmp_path / "run", "--dry_run")
    assert result.exit_code == 2
    assert f"checkpoint {path}: its run config is invalid: config noise.type='cosine'" in result.output


def test_build_diffusion_refuses_an_unknown_noise_type():
    config = {"graph": {"type": "uniform"}, "tokens": 4, "noise": {"type": "cosine", "eps": 1e-3}}
    with pytest.raises(D3UserError, match="noise.type='cosine' is not one of: geometric, loglinear"):
        build_diffusion(config)
    config["noise"]["type"] = "loglinear"
    assert type(build_diffusion(config)[1]).__name__ == "LogLinearNoise"


@pytest.mark.parametrize("section, value", [("noise", "cosine"), ("graph", "masked")])
def test_an_original_run_with_an_unknown_schedule_is_refused(legacy_run, tmp_path, section, value):
    """The original config's ``noise.type``/``graph.type`` were silently read as geometric/uniform before."""
    run = tmp_path / "run"
    shutil.copytree(legacy_run, run)
    config_file = run / "hydra" / "config.yaml"
    hydra = yaml.safe_load(config_file.read_text())
    hydra[section]["type"] = value
    config_file.write_text(yaml.safe_dump(hydra))
    with pytest.raises(D3UserError) as caught:
        load_bundle(run)
    assert f"{config_file}: " in str(caught.value)
    assert f"{section}.type={value!r} of the original config is not one d3 knows" in str(caught.value)
