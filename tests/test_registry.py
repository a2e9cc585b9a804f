"""Registry behaviour: names, aliases, qualified lookup, collisions, replacement, helpful errors, laziness."""
from __future__ import annotations

import sys

import pytest

from d3core.api import hookimpl
from d3core.errors import PluginError
from d3core.registry import Entry, FailedProvider, Provider, Registry, normalize_kind


def _entry(name, dist, *, builtin=False, replace=False, aliases=(), factory="collections:OrderedDict"):
    return Entry(kind="datasets", name=name, factory=factory, provider=Provider(dist, "1.0", builtin),
                 aliases=aliases, replace=replace)


def test_names_are_case_insensitive_and_dash_underscore_equal():
    registry = Registry("datasets")
    registry.add(_entry("Deep-Starr", "d3-deepstarr", aliases=("ds",)))
    assert registry.get("deep_starr").name == "Deep-Starr"
    assert registry.get("DEEP-STARR").name == "Deep-Starr"
    assert registry.get("DS").name == "Deep-Starr"


def test_qualified_lookup_picks_the_provider():
    registry = Registry("datasets")
    registry.add(_entry("toy", "d3-a"))
    registry.add(_entry("toy", "d3-b", factory="collections:Counter"))
    assert registry.get("d3_b:toy").provider.distribution == "d3-b"
    assert registry.get("D3-A:toy").provider.distribution == "d3-a"


def test_collision_is_an_error_naming_both_distributions_and_the_fixes():
    registry = Registry("datasets")
    registry.add(_entry("toy", "d3-a"))
    registry.add(_entry("TOY", "d3-b"))
    assert set(registry.names()) == {"toy", "TOY"}
    with pytest.raises(PluginError) as info:
        registry.get("toy")
    message = str(info.value)
    assert "d3-a 1.0" in message and "d3-b 1.0" in message
    assert "'d3-a:toy'" in message and "D3_DISABLE_PLUGINS=" in message


def test_replacing_a_builtin_needs_replace_true():
    registry = Registry("loggers")
    registry.add(_entry("csv", "d3core.builtin.loggers", builtin=True))
    registry.add(_entry("csv", "d3-better-csv"))
    with pytest.raises(PluginError, match="replace=True"):
        registry.get("csv")
    replacing = Registry("loggers")
    replacing.add(_entry("csv", "d3core.builtin.loggers", builtin=True))
    replacing.add(_entry("csv", "d3-better-csv", replace=True))
    assert replacing.get("csv").provider.distribution == "d3-better-csv"


def test_unknown_name_lists_close_matches_and_points_to_plugins_list():
    registry = Registry("architectures")
    registry.add(_entry("Tran", "d3-arch-tran"))
    registry.add(_entry("Conv", "d3-arch-conv"))
    with pytest.raises(PluginError) as info:
        registry.get("Trans")
    message = str(info.value)
    assert "unknown architecture 'Trans'" in message and "did you mean 'Tran'" in message
    assert "d3 plugins list --kind architectures" in message and "Available: Conv, Tran" in message


def test_unknown_name_whose_provider_failed_says_so():
    failed = [FailedProvider("d3-deepstarr", "0.1.0", "ImportError: No module named 'h5py'")]
    registry = Registry("datasets", lambda: failed)
    with pytest.raises(PluginError) as info:
        registry.get("deepstarr")
    assert "d3-deepstarr 0.1.0 failed to load (ImportError: No module named 'h5py')" in str(info.value)


def test_factories_are_imported_only_when_loaded(tmp_path, monkeypatch):
    (tmp_path / "lazy_factory_mod.py").write_text("LOADED = True\nclass Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("datasets")
    registry.add(_entry("thing", "d3-lazy", factory="lazy_factory_mod:Thing"))
    assert registry.get("thing").factory_path == "lazy_factory_mod:Thing"
    assert "lazy_factory_mod" not in sys.modules
    assert registry.get("thing").load().__name__ == "Thing"
    assert "lazy_factory_mod" in sys.modules


def test_broken_factory_names_the_plugin_and_the_fix():
    registry = Registry("datasets")
    registry.add(_entry("gone", "d3-gone", factory="no_such_module_xyz:Thing"))
    with pytest.raises(PluginError, match=r"d3-gone 1.0 cannot be loaded: ModuleNotFoundError.*pip uninstall d3-gone"):
        registry.get("gone").load()


@pytest.mark.parametrize("spelling,kind", [("dataset", "datasets"), ("datasets", "datasets"),
                                           ("checkpoint-format", "checkpoint_formats"),
                                           ("checkpoint_formats", "checkpoint_formats"), ("Arch", "architectures"),
                                           ("logger", "loggers"), ("callback", "callbacks")])
def test_kind_spellings(spelling, kind):
    assert normalize_kind(spelling) == kind


def test_unknown_kind_is_a_user_error():
    with pytest.raises(PluginError, match="unknown component kind 'optimizer'"):
        normalize_kind("optimizer")


def test_misspelled_hook_is_caught(bare_pm, warnings_seen):
    class Typo:
        @hookimpl
        def register_dataset(self, register):  # missing "s"
            register("never", "x:y")

    record = bare_pm.register(Typo(), "d3-typo")
    assert record.error and "register_dataset" in record.error
    assert "never" not in bare_pm.registry("datasets")
    assert any("d3-typo" in w for w in warnings_seen)


def test_strict_mode_turns_failures_into_errors():
    from d3core.plugins import make_plugin_manager

    class Typo:
        @hookimpl
        def register_dataset(self, register):
            pass

    strict = make_plugin_manager(load_entrypoints=False, env={"D3_STRICT_PLUGINS": "1"}, warn=lambda line: None)
    with pytest.raises(PluginError, match="D3_STRICT_PLUGINS=1"):
        strict.register(Typo(), "d3-typo")


def test_builtins_load_with_an_empty_allow_list():
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_LOAD_PLUGINS": ""}, warn=lambda line: None)
    assert all(record.builtin for record in manager.records.values())
    assert "tensorboard" in manager.registry("loggers")


def test_builtins_can_be_disabled():
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_LOAD_PLUGINS": "", "D3_DISABLE_PLUGINS": "d3core.builtin.loggers"},
                                  warn=lambda line: None)
    assert "tensorboard" not in manager.registry("loggers")
    assert "lr_monitor" in manager.registry("callbacks")
