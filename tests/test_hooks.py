"""One test per hook, each with an in-process plugin; plus meta-tests that every hookspec is documented and tested."""
from __future__ import annotations

import inspect
import sys

import click
import pytest
from click.testing import CliRunner

from d3core import hookspecs
from d3core.api import hookimpl
from d3core.cli import make_cli

HOOK_NAMES = sorted(name for name, fn in vars(hookspecs).items()
                    if callable(fn) and hasattr(fn, "d3_spec"))


class ToyOracle:
    """The smallest oracle: predicts the GC fraction of one-hot [N, 4, L] input."""

    label_names = ["gc"]
    length = 8

    def __init__(self, device="cpu"):
        self.device = device

    def predict(self, x):
        return (x[:, 1] + x[:, 2]).mean(-1, keepdims=True)


class RegistersOne:
    """A plugin registering one component of each kind, with metadata."""

    @hookimpl
    def register_datasets(self, register):
        register("toy-data", "collections:OrderedDict", aliases=("toy",), description="toy", length=12)

    @hookimpl
    def register_architectures(self, register):
        register("ToyNet", "collections:Counter", presets=["tiny"])

    @hookimpl
    def register_checkpoint_formats(self, register):
        register("toyfmt", "collections:ChainMap")

    @hookimpl
    def register_loggers(self, register):
        register("toylog", "collections:deque")

    @hookimpl
    def register_callbacks(self, register):
        register("toycb", "collections:defaultdict")

    @hookimpl
    def register_oracles(self, register):
        register("toyoracle", ToyOracle, label_names=["gc"], length=8)


KIND_OF_HOOK = {"register_datasets": ("datasets", "toy-data", "OrderedDict"),
                "register_architectures": ("architectures", "ToyNet", "Counter"),
                "register_checkpoint_formats": ("checkpoint_formats", "toyfmt", "ChainMap"),
                "register_loggers": ("loggers", "toylog", "deque"),
                "register_callbacks": ("callbacks", "toycb", "defaultdict"),
                "register_oracles": ("oracles", "toyoracle", "ToyOracle")}


def _check_registration(bare_pm, hook_name):
    kind, name, attr = KIND_OF_HOOK[hook_name]
    bare_pm.register(RegistersOne(), "d3-toy", version="0.1")
    entry = bare_pm.get(kind, name.upper())
    assert entry.provider.distribution == "d3-toy" and entry.provider.version == "0.1"
    assert entry.load().__name__ == attr
    assert hook_name in bare_pm.records["d3-toy"].hooks


def test_hook_register_datasets(bare_pm):
    _check_registration(bare_pm, "register_datasets")
    assert bare_pm.get("datasets", "toy").metadata == {"length": 12}


def test_hook_register_architectures(bare_pm):
    _check_registration(bare_pm, "register_architectures")


def test_hook_register_checkpoint_formats(bare_pm):
    _check_registration(bare_pm, "register_checkpoint_formats")


def test_hook_register_loggers(bare_pm):
    _check_registration(bare_pm, "register_loggers")
    assert {"tensorboard", "csv", "wandb", "mlflow"} <= set(bare_pm.registry("loggers").names())


def test_hook_register_callbacks(bare_pm):
    _check_registration(bare_pm, "register_callbacks")
    assert {"early_stopping", "lr_monitor"} <= set(bare_pm.registry("callbacks").names())


def test_hook_register_oracles(bare_pm):
    import numpy as np

    from d3core.evaluation.oracle import resolve_oracle

    _check_registration(bare_pm, "register_oracles")
    oracle = resolve_oracle("toyoracle", "cpu", manager=bare_pm)
    assert oracle.name == "toyoracle" and oracle.device == "cpu"
    one_hot = np.eye(4, dtype=np.float32)[[[1, 2, 0, 3, 1, 1, 1, 1]]].transpose(0, 2, 1)
    assert oracle.predict(one_hot)[0, 0] == 0.75


def test_an_oracle_without_predict_is_a_plugin_error(bare_pm):
    from d3core.errors import PluginError

    class Broken:
        @hookimpl
        def register_oracles(self, register):
            register("no-predict", "collections:Counter")

    bare_pm.register(Broken(), "d3-broken-oracle")
    with pytest.raises(PluginError, match="without label_names, length, predict"):
        bare_pm.oracle("no-predict")


def test_hook_register_commands(bare_pm):
    class AddsCommand:
        @hookimpl
        def register_commands(self, cli):
            @cli.command()
            @click.argument("who")
            def greet(who):
                """Greet someone."""
                click.echo(f"hi {who}")

    bare_pm.register(AddsCommand(), "d3-greeter")
    result = CliRunner().invoke(make_cli(bare_pm), ["greet", "you"])
    assert result.exit_code == 0, result.output
    assert result.output == "hi you\n"


def test_hook_configure_trainer(bare_pm):
    class Tweaks:
        @hookimpl
        def configure_trainer(self, trainer_kwargs, config):
            trainer_kwargs["max_steps"] = config["steps"] * 2

    bare_pm.register(Tweaks(), "d3-tweaks")
    kwargs = {"max_steps": 1}
    bare_pm.call_each("configure_trainer", trainer_kwargs=kwargs, config={"steps": 5})
    assert kwargs == {"max_steps": 10}


def test_hook_that_raises_is_skipped_and_reported(bare_pm, warnings_seen):
    class Raises:
        @hookimpl
        def register_datasets(self, register):
            register("half-registered", "collections:OrderedDict")
            raise ValueError("boom")

    bare_pm.register(Raises(), "d3-raises", version="9")
    assert "half-registered" not in bare_pm.registry("datasets")
    assert bare_pm.records["d3-raises"].error == "hook register_datasets raised ValueError: boom"
    assert len(warnings_seen) == 1 and "d3-raises 9" in warnings_seen[0]
    assert "pip uninstall d3-raises" in warnings_seen[0]


def _formats(bare_pm) -> list[str]:
    return [e.name for e in bare_pm.registry("checkpoint_formats").entries() if not e.provider.builtin]


def test_pluggy_orders_the_implementations_tryfirst_and_trylast(bare_pm):
    """Hooks go through pm.hook: tryfirst runs first, trylast last, the others latest-registered first (pluggy's
    rule); registry entries keep that order, so format detection tries a tryfirst plugin's format first."""
    class Plain:
        @hookimpl
        def register_checkpoint_formats(self, register):
            register("plain", "collections:ChainMap")

    class First:
        @hookimpl(tryfirst=True)
        def register_checkpoint_formats(self, register):
            register("first", "collections:ChainMap")

    class Last:
        @hookimpl(trylast=True)
        def register_checkpoint_formats(self, register):
            register("last", "collections:ChainMap")

    class Later:
        @hookimpl
        def register_checkpoint_formats(self, register):
            register("later", "collections:ChainMap")

    for plugin, name in ((Last(), "d3-last"), (First(), "d3-first"), (Plain(), "d3-plain"), (Later(), "d3-later")):
        bare_pm.register(plugin, name)
    assert _formats(bare_pm) == ["first", "later", "plain", "last"]
    assert bare_pm.get("checkpoint_formats", "first").provider.distribution == "d3-first"


def test_hookwrappers_wrap_the_other_implementations(bare_pm, warnings_seen):
    """New-style (wrapper=True) and old-style (hookwrapper=True) wrappers see the others' results; what a wrapper
    registers is attributed to it; a wrapper that raises is skipped and the implementations inside it still run."""
    seen = {}

    class Inner:
        @hookimpl
        def configure_trainer(self, trainer_kwargs, config):
            trainer_kwargs["inner"] = True
            return "inner"

    class NewStyle:
        @hookimpl(wrapper=True)
        def configure_trainer(self, trainer_kwargs, config):
            trainer_kwargs["order"] = ["new before"]
            results = yield
            seen["new"] = list(results)
            trainer_kwargs["order"].append("new after")
            return results + ["from the wrapper"]

    class OldStyle:
        @hookimpl(hookwrapper=True)
        def configure_trainer(self, trainer_kwargs, config):
            outcome = yield
            seen["old"] = list(outcome.get_result())

    class BrokenWrapper:
        @hookimpl(wrapper=True)
        def register_datasets(self, register):
            register("from-broken-wrapper", "collections:OrderedDict")
            raise RuntimeError("wrapper broke")
            yield  # pragma: no cover

    class Wraps:
        @hookimpl(wrapper=True)
        def register_datasets(self, register):
            register("before-inner", "collections:OrderedDict")
            result = yield
            register("after-inner", "collections:OrderedDict")
            return result

    class Datasets:
        @hookimpl
        def register_datasets(self, register):
            register("plain-data", "collections:OrderedDict")

    for plugin, name in ((Inner(), "d3-inner"), (NewStyle(), "d3-new"), (OldStyle(), "d3-old"),
                         (Datasets(), "d3-datasets"), (Wraps(), "d3-wraps"), (BrokenWrapper(), "d3-broken")):
        bare_pm.register(plugin, name)
    kwargs = {}
    results = bare_pm.call_each("configure_trainer", trainer_kwargs=kwargs, config={})
    assert kwargs == {"order": ["new before", "new after"], "inner": True}
    assert seen == {"new": ["inner"], "old": ["inner", "from the wrapper"]} and results == seen["old"]

    registry = bare_pm.registry("datasets")
    assert {registry.get(n).provider.distribution for n in ("before-inner", "after-inner")} == {"d3-wraps"}
    assert registry.get("plain-data").provider.distribution == "d3-datasets"
    assert "from-broken-wrapper" not in registry
    assert bare_pm.records["d3-broken"].error == "hook register_datasets raised RuntimeError: wrapper broke"
    assert len(warnings_seen) == 1 and "d3-broken" in warnings_seen[0]


def test_a_plugin_that_failed_once_contributes_nothing_and_is_not_called_again(bare_pm, warnings_seen):
    calls = []

    class FailsLate:
        @hookimpl
        def register_datasets(self, register):
            register("early-data", "collections:OrderedDict")

        @hookimpl
        def register_loggers(self, register):
            raise ValueError("late failure")

        @hookimpl
        def configure_trainer(self, trainer_kwargs):
            calls.append("called")

    bare_pm.register(FailsLate(), "d3-fails-late")
    assert "early-data" not in bare_pm.registry("datasets")  # registered by the same plugin before it failed
    bare_pm.call_each("configure_trainer", trainer_kwargs={}, config={})
    assert calls == [] and len(warnings_seen) == 1


def test_strict_mode_raises_through_pluggy():
    from d3core.errors import PluginError
    from d3core.plugins import make_plugin_manager

    class Raises:
        @hookimpl
        def configure_trainer(self, trainer_kwargs):
            raise ValueError("strict boom")

    manager = make_plugin_manager(load_entrypoints=False, env={"D3_STRICT_PLUGINS": "1"})
    manager.register(Raises(), "d3-strict")
    with pytest.raises(PluginError, match="d3-strict failed to load: hook configure_trainer raised ValueError: "
                                          "strict boom"):
        manager.call_each("configure_trainer", trainer_kwargs={}, config={})


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hookspec_is_documented(hook_name):
    doc = inspect.getdoc(getattr(hookspecs, hook_name))
    assert doc and "Example::" in doc and "Called" in doc, f"{hook_name} needs: what, when it is called, an example"


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hookspec_has_a_test(hook_name):
    assert hasattr(sys.modules[__name__], f"test_hook_{hook_name}"), f"add test_hook_{hook_name}"


def test_hook_names_are_the_contract():
    assert HOOK_NAMES == ["configure_trainer", "register_architectures", "register_callbacks",
                          "register_checkpoint_formats", "register_commands", "register_datasets",
                          "register_loggers", "register_models", "register_oracles"]


def test_components_are_checked_against_their_base_class(bare_pm):
    from d3core.data.base import SequenceDataset
    from d3core.errors import PluginError

    class Broken(SequenceDataset):
        name = "broken"

        def __init__(self):
            raise OSError("license server unreachable")

    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register("broken-data", Broken)

    bare_pm.register(RegistersOne(), "d3-toy", version="0.1")
    bare_pm.register(Plugin(), "d3-broken-data", version="2.0")
    with pytest.raises(PluginError, match=r"dataset 'toy-data' from d3-toy 0.1 is collections:OrderedDict .*not a "
                                          r"d3core.data.SequenceDataset subclass.*pip uninstall d3-toy"):
        bare_pm.dataset("toy")
    with pytest.raises(PluginError, match=r"architecture 'ToyNet' from d3-toy 0.1 .*not a "
                                          r"d3core.architecture.Architecture subclass"):
        bare_pm.architecture("toynet")
    with pytest.raises(PluginError, match=r"dataset 'broken-data' from d3-broken-data 2.0 cannot be created: "
                                          r"OSError: license server unreachable"):
        bare_pm.dataset("broken-data")


def test_hook_register_models(bare_pm):
    from d3core.checkpoints.published import published_files

    class Publishes:
        @hookimpl
        def register_models(self, register):
            register("toy-model", "https://example.org/files/Toy_Model.ckpt", kind="model", arch="ToyNet",
                     size=1234, description="a toy")

    bare_pm.register(Publishes(), "d3-publishes")
    (file,) = published_files(bare_pm)
    assert (file.name, file.kind, file.file_name, file.size, file.provider) == \
        ("toy-model", "model", "Toy_Model.ckpt", 1234, "d3-publishes")
