"""Safe loading: d3-dna files need OmegaConf's config classes and nothing else; those are allowed for this format's
reads only; a d3-dna-shaped file that would run code is refused in one line and nothing executes; truncated and
reshaped files are one-line errors."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"


class RunsCode:
    """Unpickling this would call ``os.system`` (what a hostile checkpoint smuggles in)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _content(name: str) -> dict:
    from d3_ckpt_d3dna.safe_read import read_file

    content = read_file(FIXTURES / name)
    return {key: value for key, value in content.items()}


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    return text


def test_the_allow_list_is_exactly_omegaconfs_config_classes():
    from d3_ckpt_d3dna.safe_read import omegaconf_globals

    names = {f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', getattr(g, '_name', repr(g)))}"
             for g in omegaconf_globals()}
    assert names == {"omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig",
                     "omegaconf.base.ContainerMetadata", "omegaconf.base.Metadata", "omegaconf.nodes.AnyNode",
                     "typing.Any", "builtins.dict", "builtins.list", "collections.defaultdict"}


def test_d3s_own_allow_list_is_not_widened():
    """The core allow-list stays numpy's; reading a d3-dna file without this format's extra globals is refused."""
    from d3core.api import UnsafeCheckpointError, safe_torch_load
    from d3core.checkpoints import allowed_globals

    assert not any("omegaconf" in str(getattr(g, "__module__", "")) for g in allowed_globals())
    with pytest.raises(UnsafeCheckpointError, match="omegaconf"):
        safe_torch_load(FIXTURES / "D3_Tran_DeepSTARR.ckpt")


def test_config_is_rebuilt_as_plain_data_without_resolving(d3dna):
    from omegaconf import OmegaConf

    from d3_ckpt_d3dna.safe_read import plain_config
    from d3core.checkpoints import load_bundle

    cfg = plain_config(OmegaConf.create({"a": {"b": "${oc.env:HOME}"}, "c": [1, 2]}), "x")
    assert cfg == {"a": {"b": "${oc.env:HOME}"}, "c": [1, 2]} and type(cfg["a"]) is dict and type(cfg["c"]) is list
    assert type(_content("D3_Tran_DeepSTARR.ckpt")["hyper_parameters"]["cfg"]).__name__ == "DictConfig"
    _, bundle = load_bundle(FIXTURES / "D3_Tran_DeepSTARR.ckpt")

    def plain(value):
        if isinstance(value, dict):
            return type(value) is dict and all(plain(v) for v in value.values())
        if isinstance(value, list):
            return type(value) is list and all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool))

    assert plain(bundle.config) and plain(bundle.extra["d3dna"]["cfg"])
    assert bundle.extra["d3dna"]["cfg"]["model"]["architecture"] == "transformer"


@pytest.mark.parametrize("where", ["hyper_parameters", "ema list", "config"])
def test_a_d3dna_shaped_file_that_would_run_code_is_refused(d3dna, d3_run_cli, tmp_path, where):
    marker = tmp_path / "executed"
    content = _content("D3_Tran_DeepSTARR.ckpt")
    evil = RunsCode(marker)
    if where == "hyper_parameters":
        content["hyper_parameters"] = {**content["hyper_parameters"], "callback": evil}
    elif where == "ema list":
        state = dict(content["state_dict"])
        state["ema.shadow_params"] = [*state["ema.shadow_params"][:-1], evil]
        content["state_dict"] = state
    else:
        content["hyper_parameters"] = {"cfg": {"model": evil}, "dataset_name": None}
    hostile = tmp_path / "D3_Tran_DeepSTARR.ckpt"
    torch.save(content, hostile)
    for command in (("checkpoint", "info", hostile), ("sample", hostile, "--labels", "dev=1,hk=1", "--num", 1,
                                                      "-o", tmp_path / "s.fasta")):
        text = _one_line_error(d3_run_cli(*command))
        assert "refused" in text and "posix.system" in text
    assert not marker.exists()


def test_a_hostile_pth_is_refused(d3dna, d3_run_cli, tmp_path):
    marker = tmp_path / "executed"
    content = _content("D3_Conv_DeepSTARR.pth")
    content["step"] = RunsCode(marker)
    hostile = tmp_path / "model.pth"
    torch.save(content, hostile)
    text = _one_line_error(d3_run_cli("checkpoint", "info", hostile, "--legacy_config",
                                      FIXTURES / "configs" / "D3_Conv_DeepSTARR.yaml"))
    assert "posix.system" in text and not marker.exists()


@pytest.mark.parametrize("name", ["D3_Tran_MPRA_HepG2.ckpt", "D3_Conv_DeepSTARR.pth"])
def test_truncated(d3dna, d3_run_cli, tmp_path, name):
    data = (FIXTURES / name).read_bytes()
    truncated = tmp_path / name
    truncated.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _one_line_error(d3_run_cli("checkpoint", "info", truncated))


def _saved(tmp_path, name, edit) -> Path:
    content = _content(name)
    content["state_dict"] = dict(content["state_dict"])
    edit(content["state_dict"])
    path = tmp_path / name
    torch.save(content, path)
    return path


def test_a_reshaped_tensor(d3dna, d3_run_cli, tmp_path):
    def reshape(state):
        key = "score_model.blocks.1.attn_out.weight"
        state[key] = state[key].reshape(-1)[: 48 * 24].reshape(48, 24).clone()

    text = _one_line_error(d3_run_cli("checkpoint", "info", _saved(tmp_path, "D3_Tran_DeepSTARR.ckpt", reshape)))
    assert "blocks.1.attn_out.weight has shape (48, 24)" in text


def test_a_reshaped_size_tensor(d3dna, d3_run_cli, tmp_path):
    def widen(state):
        key = "score_model.linear.weight"
        state[key] = torch.zeros(24, *state[key].shape[1:])

    text = _one_line_error(d3_run_cli("checkpoint", "info", _saved(tmp_path, "D3_Conv_MPRA_K562.ckpt", widen)))
    assert "model.channels=16 but the weights have 24" in text


def test_an_ema_list_of_the_wrong_length(d3dna, d3_run_cli, tmp_path):
    def shorten(state):
        state["ema.shadow_params"] = state["ema.shadow_params"][:-1]

    text = _one_line_error(d3_run_cli("checkpoint", "info", _saved(tmp_path, "D3_Tran_DeepSTARR.ckpt", shorten)))
    assert "the EMA holds 32 tensors but the network has 33 trainable parameters" in text


def test_a_missing_tensor(d3dna, d3_run_cli, tmp_path):
    def drop(state):
        del state["score_model.output_layer.linear.bias"]

    text = _one_line_error(d3_run_cli("checkpoint", "info", _saved(tmp_path, "D3_Tran_DeepSTARR.ckpt", drop)))
    assert "missing ['output_layer.linear.bias']" in text
