"""Fixtures of the data tests: the two dataset plugins registered in-process, CLI runners, file writers."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import d3_deepstarr
import d3_mpra
from d3core.data.encoding import one_hot
from d3core.plugins import make_plugin_manager, set_plugin_manager

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"


@pytest.fixture
def data_pm():
    """A plugin manager holding exactly the deepstarr and mpra plugins, installed as the process-wide one."""
    manager = make_plugin_manager(load_entrypoints=False, env={}, warn=lambda line: None)
    manager.register(d3_deepstarr, "d3-deepstarr", version="0.1.0")
    manager.register(d3_mpra, "d3-mpra", version="0.1.0")
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


@pytest.fixture
def deepstarr(data_pm):
    return data_pm.get("datasets", "deepstarr").load()()


@pytest.fixture
def mpra(data_pm):
    return data_pm.get("datasets", "mpra").load()()


@pytest.fixture
def d3(data_pm):
    """``d3(*args)``: run the full ``d3`` app (root error handling included) and return the click result."""
    from d3core.cli.app import make_cli

    cli = make_cli(data_pm)
    runner = CliRunner()

    def invoke(*args: str, env: Mapping[str, str] | None = None):
        return runner.invoke(cli, list(args), env=dict(env or {}), catch_exceptions=True)

    return invoke


def assert_user_error(result, *fragments: str) -> None:
    """Exit code 2, no traceback, and every fragment in the output."""
    text = result.output
    assert result.exit_code == 2, (result.exit_code, text, result.exception)
    assert "Traceback" not in text, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def write_h5(path: Path, splits: Mapping[str, tuple[np.ndarray, np.ndarray]], *, x_key: str = "X_{split}",
             y_key: str = "Y_{split}", attrs: Mapping[str, Any] | None = None, **create_kwargs) -> Path:
    """Write arrays as they are (no checks) -- for making good and bad files."""
    with h5py.File(path, "w", locking=False) as f:
        for split, (x, y) in splits.items():
            f.create_dataset(x_key.format(split=split), data=x, **create_kwargs)
            f.create_dataset(y_key.format(split=split), data=y)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path


def random_split_arrays(n: int, length: int = 249, c: int = 2, *, channels_first: bool = True, seed: int = 0,
                        dtype=np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens, one-hot X, labels Y) of random rows."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 4, size=(n, length))
    x = one_hot(tokens, channels_first=channels_first, dtype=dtype)
    y = rng.normal(size=(n, c)).astype(np.float32)
    return tokens, x, y


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def h():
    """Helpers for the data tests (conftest modules are not importable under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(write_h5=write_h5, random_split_arrays=random_split_arrays,
                           assert_user_error=assert_user_error, real=REAL)
