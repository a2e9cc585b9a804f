"""Real plugin distributions, pip-installed into a temporary folder, seen through the installed ``d3`` command."""
from __future__ import annotations

import json

FIRST_PARTY = {"d3-arch-conv", "d3-arch-tran", "d3-ckpt-legacy", "d3-deepstarr", "d3-mpra"}


def _names(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [row["name"] for row in json.loads(result.stdout)]


def test_third_party_plugin_is_listed_and_its_names_resolve(plugin_site, run_d3):
    result = run_d3("plugins", "list", "--json", site=plugin_site, D3_LOAD_PLUGINS="d3-example-plugin")
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["d3-example-plugin"]
    row = rows[0]
    assert row["version"] == "1.2.3" and row["error"] is None and row["builtin"] is False
    assert row["hooks"] == ["register_callbacks", "register_commands", "register_datasets"]
    assert row["provides"]["datasets"] == ["example-data"] and row["provides"]["callbacks"] == ["example_callback"]
    shown = run_d3("plugins", "show", "dataset", "EXDATA", site=plugin_site, D3_LOAD_PLUGINS="d3-example-plugin")
    assert shown.returncode == 0, shown.stderr
    assert "provider:    d3-example-plugin 1.2.3" in shown.stdout
    assert "factory:     d3_example_plugin.dataset:ExampleDataset" in shown.stdout
    hello = run_d3("example-hello", site=plugin_site, D3_LOAD_PLUGINS="d3-example-plugin")
    assert hello.stdout == "hello from d3-example-plugin\n"


def test_broken_plugin_does_not_break_the_cli(plugin_site, run_d3):
    result = run_d3("plugins", "list", "--json", site=plugin_site)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert result.returncode == 0
    assert rows["d3-broken-plugin"]["error"] == "RuntimeError: this plugin is broken on purpose"
    assert FIRST_PARTY | {"d3-example-plugin", "d3-clash-plugin"} <= set(rows)
    warning = [line for line in result.stderr.splitlines() if "d3-broken-plugin" in line]
    assert len(warning) == 1 and "pip uninstall d3-broken-plugin" in warning[0]
    table = run_d3("plugins", "list", site=plugin_site)
    assert table.returncode == 0 and "ERROR: RuntimeError: this plugin is broken on purpose" in table.stdout


def test_strict_mode_fails_on_a_broken_plugin(plugin_site, run_d3):
    result = run_d3("plugins", "list", site=plugin_site, D3_STRICT_PLUGINS="1")
    assert result.returncode == 2
    assert "d3-broken-plugin" in result.stderr and "Traceback" not in result.stderr


def test_misspelled_hook_in_an_installed_plugin(plugin_site, run_d3):
    result = run_d3("plugins", "list", "--json", site=plugin_site, D3_LOAD_PLUGINS="d3-typo-plugin")
    (row,) = json.loads(result.stdout)
    assert "unknown hook 'register_dataset'" in row["error"]


def test_name_collision_is_an_error_when_used(plugin_site, run_d3):
    env = {"D3_LOAD_PLUGINS": "d3-example-plugin,d3-clash-plugin"}
    listed = run_d3("plugins", "list", "--kind", "datasets", site=plugin_site, **env)
    assert listed.returncode == 0 and "d3-clash-plugin" in listed.stdout and "d3-example-plugin" in listed.stdout
    shown = run_d3("plugins", "show", "dataset", "example-data", site=plugin_site, **env)
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    assert "d3-example-plugin 1.2.3" in shown.stderr and "d3-clash-plugin 2.0.0" in shown.stderr
    qualified = run_d3("plugins", "show", "dataset", "d3-clash-plugin:example-data", site=plugin_site, **env)
    assert qualified.returncode == 0 and "d3_clash_plugin:ClashDataset" in qualified.stdout


def test_environment_switches(plugin_site, run_d3):
    assert _names(run_d3("plugins", "list", "--json", site=plugin_site, D3_LOAD_PLUGINS="")) == []
    everything = set(_names(run_d3("plugins", "list", "--json", site=plugin_site)))
    assert {"d3-example-plugin", "d3-broken-plugin"} <= everything
    blocked = run_d3("plugins", "list", "--json", site=plugin_site, D3_DISABLE_PLUGINS="d3-broken-plugin,D3_Typo_Plugin")
    assert set(_names(blocked)) == everything - {"d3-broken-plugin", "d3-typo-plugin"}
    assert "d3-broken-plugin" not in blocked.stderr
    allowed = run_d3("plugins", "list", "--json", "--all", site=plugin_site, D3_LOAD_PLUGINS="d3-example-plugin,nope")
    assert set(_names(allowed)) == {"d3-example-plugin", "d3core.builtin.callbacks", "d3core.builtin.loggers",
                                    "d3core.builtin.checkpoint_lightning"}
    assert "'nope', which is not an installed d3 plugin" in allowed.stderr


def test_plugins_list_does_not_import_torch(plugin_site, run_d3):
    import subprocess
    import sys

    code = ("import sys\nfrom d3core.cli import main\nsys.argv = ['d3', 'plugins', 'list', '--all']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('torch', 'numpy', 'pytorch_lightning', 'h5py', 'omegaconf') if m in sys.modules)\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    env = {"PYTHONPATH": str(plugin_site)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "HEAVY []" in result.stderr, result.stderr


def test_version_and_help(run_d3):
    version = run_d3("--version")
    assert version.returncode == 0 and version.stdout.startswith("d3 (d3core) ")
    helped = run_d3("--help")
    assert helped.returncode == 0 and "plugins" in helped.stdout
