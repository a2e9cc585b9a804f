"""examples/python_api.py: the public Python API end to end on tiny synthetic data (CI runs it)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python_api.py"


@pytest.mark.slow
def test_python_api_example_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    result = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path)], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "deepstarr comes from d3-deepstarr" in out
    assert "trained 10 steps" in out and "first sample:" in out and "evaluation:" in out
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "run" / "config.yaml").is_file()


def test_python_api_example_uses_only_documented_names():
    import re

    text = EXAMPLE.read_text()
    documented = (EXAMPLE.parents[1] / "docs" / "python-api.md").read_text()
    used = set(re.findall(r"^from (d3core[\w.]*) import (.+)$", text, re.M))
    for module, names in used:
        for name in (n.strip() for n in names.split(",")):
            assert f"`{module}.{name}`" in documented, \
                f"{module}.{name} is used by the example but not documented in docs/python-api.md"
    for attr in set(re.findall(r"\bd3core\.(\w+)\(", text)):
        assert f"`d3core.{attr}`" in documented
