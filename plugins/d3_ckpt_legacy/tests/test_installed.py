"""The distribution is installed with its entry point and registers the ``legacy`` checkpoint format."""
from importlib.metadata import distribution


def test_entry_point_in_group_d3():
    eps = [ep for ep in distribution("d3-ckpt-legacy").entry_points if ep.group == "d3"]
    assert [(ep.name, ep.value) for ep in eps] == [("d3-ckpt-legacy", "d3_ckpt_legacy")]
    assert eps[0].load().__name__ == "d3_ckpt_legacy"


def test_registers_the_legacy_format():
    from d3core.plugins import make_plugin_manager

    registry = make_plugin_manager(env={"D3_LOAD_PLUGINS": "d3-ckpt-legacy"}).registry("checkpoint_formats")
    entry = registry.get("pth")
    assert entry.name == "legacy" and entry.provider.distribution == "d3-ckpt-legacy"
    assert entry.factory_path == "d3_ckpt_legacy.format:LegacyRunFormat"
    assert entry.load().suffix == ""
