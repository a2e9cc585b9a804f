"""Shared fixtures of the core tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from d3core.plugins import make_plugin_manager
from plugin_fixtures import install_fixture_plugins

D3_SCRIPT = Path(sys.executable).with_name("d3")


@pytest.fixture
def warnings_seen() -> list[str]:
    """Warning lines a plugin manager printed (pass ``warn=warnings_seen.append``)."""
    return []


@pytest.fixture
def bare_pm(warnings_seen):
    """A plugin manager with the built-ins but no entry points: register in-process plugins on it."""
    return make_plugin_manager(load_entrypoints=False, env={}, warn=warnings_seen.append)


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """The fixture plugins of tests/fixtures/plugins, really pip-installed into a temporary PYTHONPATH folder."""
    return install_fixture_plugins(tmp_path_factory.mktemp("plugin-site"))


def _run_d3(*args: str, site: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run the installed ``d3`` console script with extra environment variables (and plugin site on PYTHONPATH)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), full_env.get("PYTHONPATH")]))
    full_env.update(env)
    return subprocess.run([str(D3_SCRIPT), *args], capture_output=True, text=True, env=full_env, timeout=120)


@pytest.fixture(scope="session")
def run_d3():
    """``run_d3(*args, site=None, **env)``: run the installed ``d3`` script as a user would, return the result."""
    return _run_d3
