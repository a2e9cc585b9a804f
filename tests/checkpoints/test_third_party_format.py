"""A third-party format plugin (tests/fixtures/plugins/safetensors_format), pip-installed into a temporary site, works
through the ``register_checkpoint_formats`` hook alone: ``d3 convert --to safetensors`` and ``load_model_local``."""
from __future__ import annotations

import json
import struct
import sys

import torch

from .conftest import TOLERANCE, outputs


def test_safetensors_plugin_converts_and_loads(plugin_site, run_d3, legacy_run, tmp_path, reference):
    listed = run_d3("plugins", "list", "--kind", "checkpoint_formats", site=plugin_site)
    assert listed.returncode == 0 and "safetensors" in listed.stdout and "d3-safetensors-format" in listed.stdout
    result = run_d3("convert", str(legacy_run), "--to", "safetensors", "--out", str(tmp_path / "st"),
                    site=plugin_site)
    assert result.returncode == 0, result.stderr
    target = tmp_path / "st" / "deepstarr_tran_tiny.safetensors"
    assert target.is_file() and "converted (step 4321)" in result.stdout
    # the safetensors layout: u64 header length, JSON header (dtype, shape, byte range per tensor), raw bytes
    data = target.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    assert header["__metadata__"]["format"] == "d3-safetensors/1"
    assert header["model/vocab_embed.embedding"] == {**header["model/vocab_embed.embedding"], "dtype": "F32",
                                                     "shape": [4, 64]}

    # load_model_local in this process, the plugin found through its entry point in the temporary site
    from d3core.checkpoints import detect_format, load_model_local
    from d3core.plugins import make_plugin_manager

    sys.path.insert(0, str(plugin_site))
    try:
        manager = make_plugin_manager(env={"D3_DISABLE_PLUGINS": "d3-broken-plugin,d3-typo-plugin"})
        assert detect_format(target, manager)[0] == "safetensors"
        model, graph, noise = load_model_local(target, "cpu", manager=manager)
    finally:
        sys.path.remove(str(plugin_site))
    assert not model.training
    assert (outputs(model, reference) - reference["out_ema_weights"]).abs().max().item() <= TOLERANCE
    assert torch.equal(noise(torch.tensor([0.5]))[0], load_model_local(legacy_run)[2](torch.tensor([0.5]))[0])
