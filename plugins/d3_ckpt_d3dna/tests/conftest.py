"""Fixtures of the d3-ckpt-d3dna tests: the d3-dna 0.1.3 files in ``fixtures/`` and their reference outputs.

``fixtures/`` holds small files written by d3-dna 0.1.3's own code (tiny sizes, a few training steps) and
``reference_outputs.pt``, the outputs of d3-dna's own loaders on fixed inputs (``MANIFEST.json``: how each was made,
with its SHA-256). The tests never read them with anything but ``weights_only=True``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
#: model file -> the d3-dna config YAML it was trained with (the .pth carries none)
CONFIG_OF = {"D3_Conv_DeepSTARR.pth": "D3_Conv_DeepSTARR.yaml"}


@pytest.fixture(scope="session")
def reference():
    """``{"inputs": {...}, "outputs": {file: {...}}}`` recorded from d3-dna 0.1.3 (CPU, fp32)."""
    import torch

    with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
        return torch.load(FIXTURES / "reference_outputs.pt", weights_only=True)


@pytest.fixture
def fixture_file(tmp_path):
    """``fixture_file(name, as_name=None) -> Path``: a copy of a fixture file (under another name if asked)."""
    def copy(name: str, as_name: str | None = None) -> Path:
        target = tmp_path / (as_name or name)
        shutil.copyfile(FIXTURES / name, target)
        return target

    return copy


@pytest.fixture
def d3dna(d3_register):
    """This plugin (and d3-deepstarr, the dataset and oracle network of d3-dna's DeepSTARR files) registered on
    the test's plugin manager."""
    import d3_ckpt_d3dna

    d3_register(d3_ckpt_d3dna, "d3-ckpt-d3dna")
    deepstarr = pytest.importorskip("d3_deepstarr", reason="d3-dna's DeepSTARR files use the deepstarr dataset plugin")
    d3_register(deepstarr, "d3-deepstarr")


@pytest.fixture
def config_option():
    """``config_option(name) -> {"config": yaml}`` for a model file that needs its d3-dna config given, else ``{}``."""
    def option(name: str) -> dict:
        return {"config": str(FIXTURES / "configs" / CONFIG_OF[name])} if name in CONFIG_OF else {}

    return option
