"""The documentation in docs/ stays true: the CLI reference is regenerated, every config key is documented, links
resolve, documented commands and flags exist, and the documented Python names exist with docstrings."""
from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: the pages this test owns; other pages (design.md, checkpoints.md, evaluation.md) are only linked
PAGES = ["index.md", "getting-started.md", "cli.md", "configuration.md", "python-api.md", "writing-plugins.md",
         "sampling.md", "migrating.md", "troubleshooting.md", "designing-sequences.md"]
#: commands that plugins in the documentation's examples add (not part of the core app)
PLUGIN_COMMANDS = {"my-lab-motifs"}
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.S | re.M)


def read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def without_code(text: str) -> str:
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = without_code(page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def base_keys() -> list[str]:
    def leaves(config: DictConfig, prefix: str = "") -> list[str]:
        keys = []
        for key, value in config.items():
            keys += leaves(value, f"{prefix}{key}.") if isinstance(value, DictConfig) else [f"{prefix}{key}"]
        return keys

    return leaves(OmegaConf.load(ROOT / "d3core" / "config" / "base.yaml"))


def test_cli_reference_is_regenerated():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]


def test_cli_reference_lists_every_core_command():
    from d3core.cli import make_cli
    from d3core.plugins import make_plugin_manager
    from d3core.testing.helpers import process_manager

    manager = make_plugin_manager(load_entrypoints=False, env={})
    with process_manager(manager):
        cli = make_cli(manager)
    text = read("cli.md")
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert f"## d3 {name}\n" in text
        for sub in command.list_commands(ctx) if isinstance(command, click.Group) else ():
            assert f"## d3 {name} {sub}\n" in text


def test_configuration_reference_has_every_key():
    text = read("configuration.md")
    missing = [key for key in base_keys() if f"`{key}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page):
    text = without_code(read(page))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (DOCS / path).resolve() if path else DOCS / page
        assert resolved.exists(), f"{page}: broken link {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page}: no heading for #{anchor} in {resolved.name}"


def test_index_links_every_page():
    linked = set(re.findall(r"\]\(([\w.-]+\.md)", read("index.md")))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert pages <= linked, f"docs/index.md does not link {sorted(pages - linked)}"


# -- commands in the pages' shell blocks (the checker is in conftest.py) --------------------------------------------
@pytest.mark.parametrize("page", [p for p in PAGES if p != "cli.md"])
def test_documented_commands_and_flags_exist(page, check_shell_commands):
    checked = check_shell_commands(read(page), page, plugin_commands=PLUGIN_COMMANDS)
    assert checked or page in ("index.md", "configuration.md", "python-api.md")


# -- Python names ---------------------------------------------------------------------------------------------------
def _python_names() -> list[str]:
    return sorted(set(re.findall(r"`(d3core(?:\.\w+)+)`", read("python-api.md"))))


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


#: public names still without a docstring, in files this test's owner does not maintain (remove when fixed)
MISSING_DOCSTRINGS: set[str] = set()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="no docstring yet"))
                                  if n in MISSING_DOCSTRINGS else n for n in _python_names()])
def test_documented_python_names_exist_with_docstrings(name):
    obj = _resolve(name)
    if name == "d3core.api.hookimpl":
        return  # a pluggy marker instance
    assert (getattr(obj, "__doc__", None) or "").strip(), f"{name} has no docstring"
