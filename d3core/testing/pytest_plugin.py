"""pytest fixtures for d3 plugin authors (loaded automatically through the ``pytest11`` entry point ``d3``).

Every fixture name starts with ``d3_``. Example, the test of a dataset plugin::

    import d3_my_data

    def test_one_training_step(d3_register, d3_train_smoke, d3_tiny_h5):
        d3_register(d3_my_data, "d3-my-data")
        summary = d3_train_smoke(dataset="my-data", arch="tiny-arch", data=d3_tiny_h5(length=200))
        assert summary["global_step"] == 1

Importing this module imports neither torch nor Lightning (it is loaded in every pytest session of an environment
that has d3core); the fixtures import what they need when used. Disable it with ``pytest -p no:d3``.
"""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from d3core.testing import helpers


@pytest.fixture
def d3_plugin_manager():
    """A fresh plugin manager for this test: built-ins plus the tiny test components ``tiny-dna`` and ``tiny-arch``,
    no entry points (installed plugins stay out), ``D3_STRICT_PLUGINS=1``. It is the process-wide manager while the
    test runs, so ``d3core.get_registry`` and ``d3core.load_model_local`` see what the test registers."""
    manager = helpers.fresh_manager()
    with helpers.process_manager(manager):
        yield manager


@pytest.fixture
def d3_register(d3_plugin_manager):
    """``d3_register(plugin, name=None, *, version=None, manager=None)``: register an in-process plugin (a module or
    an object with ``@hookimpl`` functions) on :func:`d3_plugin_manager` (or ``manager``) for this test only.
    Returns the :class:`d3core.plugins.PluginRecord`; a plugin that fails to register raises ``PluginError``."""
    stack: list[Any] = []

    def register(plugin: Any, name: str | None = None, *, version: str | None = None, manager=None):
        context = helpers.registered(manager or d3_plugin_manager, plugin, name, version=version)
        record = context.__enter__()
        stack.append(context)
        return record

    yield register
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def d3_tiny_h5(tmp_path):
    """``d3_tiny_h5(n=64, length=32, label_names=("activity",), seed=0) -> Path``: a tiny synthetic dataset file in
    the DeepSTARR layout (``X_{split}`` ``[N, 4, L]``, ``Y_{split}`` ``[N, C]``) under the test's ``tmp_path``."""
    counter = itertools.count()

    def make(*, n: int = 64, length: int = 32, label_names=("activity",), seed: int = 0):
        return helpers.write_tiny_h5(tmp_path / f"d3-tiny-{next(counter)}.h5", n=n, length=length,
                                     label_names=label_names, seed=seed)

    return make


@pytest.fixture
def d3_tiny_batch():
    """``d3_tiny_batch(batch=4, length=32, num_labels=1, *, label_mode="global", tokens=4, seed=0)`` ->
    ``(tokens [B, L], labels [B, C] | [B, L, C] | None, sigma [B])`` for a forward pass of a score network."""
    return helpers.tiny_batch


@pytest.fixture
def d3_train_smoke(d3_plugin_manager, tmp_path):
    """``d3_train_smoke(dataset="tiny-dna", arch="tiny-arch", *, data=None, preset="tiny", max_steps=1,
    overrides=(), fast_dev_run=False) -> dict``: one optimizer step (and a validation) on the CPU through
    ``plan_run`` + ``fit``, on :func:`d3_plugin_manager`; returns ``run_dir``, ``last_checkpoint``, ``global_step``,
    ``metrics`` and ``plan``."""
    counter = itertools.count()

    def run(dataset: str = "tiny-dna", arch: str = "tiny-arch", **kwargs: Any) -> dict[str, Any]:
        return helpers.train_smoke(d3_plugin_manager, tmp_path / f"d3-smoke-{next(counter)}", dataset=dataset,
                                   arch=arch, **kwargs)

    return run


@pytest.fixture
def d3_run_cli(d3_plugin_manager):
    """``d3_run_cli(*args, input=None, env=None)``: run the ``d3`` command line in this process on
    :func:`d3_plugin_manager` (so in-process plugins are visible); returns click's ``Result`` (``exit_code``,
    ``output``, ``stdout``, ``stderr``)."""
    from click.testing import CliRunner

    from d3core.cli import make_cli

    def invoke(*args: Any, input: str | None = None, env: dict[str, str] | None = None):
        app = make_cli(d3_plugin_manager)
        return CliRunner().invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return invoke
