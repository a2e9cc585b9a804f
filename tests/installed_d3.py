"""The fixture plugins of tests/fixtures/plugins, really pip-installed (``--target``, never into the environment)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def install_fixture_plugins(target: Path) -> Path:
    """``pip install --target target`` every fixture plugin; put ``target`` on PYTHONPATH to use them."""
    packages = sorted(str(p) for p in FIXTURE_PLUGINS.iterdir() if (p / "pyproject.toml").exists())
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), *packages], check=True, capture_output=True)
    return target
