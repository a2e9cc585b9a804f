"""Running the installed ``d3`` as a user would: its console script, an environment without the caller's ``D3_*``
switches, and the fixture plugins of tests/fixtures/plugins really pip-installed (``--target``, never into the
environment)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

D3_SCRIPT = Path(sys.executable).with_name("d3")
FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def install_fixture_plugins(target: Path) -> Path:
    """``pip install --target target`` every fixture plugin; put ``target`` on PYTHONPATH to use them."""
    packages = sorted(str(p) for p in FIXTURE_PLUGINS.iterdir() if (p / "pyproject.toml").exists())
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), *packages], check=True, capture_output=True)
    return target


def user_env(site: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without ``D3_*`` variables, ``site`` (installed plugins) first on PYTHONPATH, and
    ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env.update(extra)
    return env
