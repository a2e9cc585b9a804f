"""The dependency rule and the plugin API hold: import-linter's contracts (pyproject.toml) are kept, the plugin
contract forbids every internal module, and the core knows nothing of the original D3 run layout (that lives in
d3-ckpt-legacy)."""
from __future__ import annotations

import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import d3core
import d3core.api

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint_imports() -> str:
    found = Path(sys.executable).with_name("lint-imports")
    return str(found) if found.exists() else shutil.which("lint-imports") or "lint-imports"


def test_import_contracts_are_kept():
    result = subprocess.run([_lint_imports()], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_the_oracle_modules_keep_their_order_and_a_circle_breaks_it():
    """d3core.evaluation's oracle modules are layered (oracle > original_oracles > oracle_networks | oracle_interface):
    the code keeps the contract, and the import circle oracle <-> original_oracles, were it back, breaks it."""
    import grimp
    from importlinter.contracts.layers import LayersContract

    spec = next(c for c in CONTRACTS if c.get("containers") == ["d3core.evaluation"])
    contract = LayersContract(name=spec["name"], session_options={"root_packages": ["d3core"]},
                              contract_options={k: v for k, v in spec.items() if k not in ("name", "type")})
    graph = grimp.build_graph("d3core", cache_dir=None)
    assert contract.check(graph, verbose=False).kept
    graph.add_import(importer="d3core.evaluation.original_oracles", imported="d3core.evaluation.oracle")
    assert not contract.check(graph, verbose=False).kept


def test_the_plugin_contract_forbids_every_internal_module():
    forbidden = next(c for c in CONTRACTS if c["type"] == "forbidden")
    internal = {f"d3core.{m.name}" for m in pkgutil.iter_modules(d3core.__path__)} - {"d3core.api"}
    assert set(forbidden["forbidden_modules"]) == internal
    plugins = {p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file()}
    assert set(forbidden["source_modules"]) == plugins


def test_every_public_name_resolves():
    for name in d3core.api.__all__:
        assert getattr(d3core.api, name) is not None, name
    from d3core import hookspecs
    assert d3core.api.hookimpl is hookspecs.hookimpl


def test_old_hookimpl_import_still_works_with_a_deprecation_warning():
    from d3core import hookspecs
    with pytest.warns(DeprecationWarning, match="from d3core.api import hookimpl"):
        from d3core import hookimpl
    assert hookimpl is hookspecs.hookimpl


ORIGINAL_LAYOUT = re.compile(r"checkpoints-meta|\.?hydra/|checkpoint\.pth|checkpoint_\d+\.pth|checkpoint_N")


def test_the_core_knows_nothing_of_the_original_run_layout():
    """Uninstalling d3-ckpt-legacy leaves no trace of the original run directory in d3core."""
    hits = []
    for path in sorted((ROOT / "d3core").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".tmpl", ".md", ".toml"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if ORIGINAL_LAYOUT.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


@pytest.mark.parametrize("module", ["d3core.api", "d3core.checkpoints", "d3core.training"])
def test_api_modules_import_no_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules, 'pytorch_lightning' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr
