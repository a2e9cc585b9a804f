"""Shared fixtures of the core tests."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from d3core.plugins import make_plugin_manager
from installed_d3 import D3_SCRIPT, install_fixture_plugins, user_env


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
    return subprocess.run([str(D3_SCRIPT), *args], capture_output=True, text=True, env=user_env(site, **env),
                          timeout=120)


@pytest.fixture(scope="session")
def run_d3():
    """``run_d3(*args, site=None, **env)``: run the installed ``d3`` script as a user would, return the result."""
    return _run_d3
