"""The documentation (README.md and every page of docs/) stays true: the CLI reference is regenerated, every config
key is documented, links and repository paths resolve, every d3 command shown names real commands and flags, and the
documented Python names exist with docstrings."""
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
#: every page, as a path from the repository root
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in DOCS.glob("*.md"))]
#: commands that plugins in the documentation's examples add (not part of the core app)
PLUGIN_COMMANDS = {"my-lab-motifs"}
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.S | re.M)
#: what the pages show failing on purpose (errors.md's misspelled command, option and keys; the mistyped key whose
#: start-up time performance.md measures): table rows holding one are left out of the command check, and must fail it
WRONG_ON_PURPOSE = ("d3 trian", "--datset", "d3 --verbose", "optim.lrr=", "no.such.key=")
#: a path in backticks that starts at a top-level folder of the repository: `d3core/api.py`, `benchmarks/run.py`
REPO_PATH = re.compile(r"`(?P<path>(?:d3core|docs|tests|scripts|benchmarks|configs|examples|plugins|\.ci)/[\w./-]*)`")
#: a module path in backticks relative to d3core/: `training/settings.py`
CORE_MODULE = re.compile(r"`(?P<path>(?:[a-z_]+/)+[a-z_]+\.py)`")


def read(page: str) -> str:
    """The text of a page, named by its path from the repository root (``docs/cli.md``)."""
    return (ROOT / page).read_text(encoding="utf-8")


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
    text = read("docs/cli.md")
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert f"## d3 {name}\n" in text
        for sub in command.list_commands(ctx) if isinstance(command, click.Group) else ():
            assert f"## d3 {name} {sub}\n" in text


def test_configuration_reference_has_every_key():
    text = read("docs/configuration.md")
    missing = [key for key in base_keys() if f"`{key}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page):
    text = without_code(read(page))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = ((ROOT / page).parent / path).resolve() if path else ROOT / page
        assert resolved.exists(), f"{page}: broken link {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page}: no heading for #{anchor} in {resolved.name}"


def _written_by_a_benchmark(path: Path) -> bool:
    """A result file not measured yet: benchmarks/results/NAME is fine when a benchmark in benchmarks/ writes NAME."""
    return path.parent == ROOT / "benchmarks" / "results" and any(
        path.name in script.read_text(encoding="utf-8") for script in (ROOT / "benchmarks").glob("*.*"))


@pytest.mark.parametrize("page", PAGES)
def test_repository_paths_in_backticks_exist(page):
    text = without_code(read(page))
    missing = [m["path"] for m in REPO_PATH.finditer(text)
               if not (ROOT / m["path"]).exists() and not _written_by_a_benchmark(ROOT / m["path"])]
    missing += [m["path"] for m in CORE_MODULE.finditer(text)
                if m["path"].split("/")[0] in {p.name for p in (ROOT / "d3core").iterdir()}
                and not (ROOT / "d3core" / m["path"]).exists()]
    assert not missing, f"{page} names files the repository does not have: {missing}"


@pytest.mark.parametrize("page", ["README.md", "docs/design.md"])
def test_every_hook_is_named(page):
    from d3core import hookspecs

    hooks = [name for name, value in vars(hookspecs).items() if hasattr(value, "d3_spec")]
    missing = [name for name in hooks if f"`{name}`" not in read(page) and f"`{name}(" not in read(page)]
    assert len(hooks) >= 9 and not missing, f"{page} does not name the hooks {missing}"


def test_index_links_every_page():
    linked = set(re.findall(r"\]\(([\w.-]+\.md)", read("docs/index.md")))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert pages <= linked, f"docs/index.md does not link {sorted(pages - linked)}"


# -- commands shown in the pages: code blocks and inline code (the checker is in conftest.py) ------------------------
@pytest.mark.parametrize("page", PAGES)
def test_documented_commands_and_flags_exist(page, check_shell_commands):
    text = "".join(line for line in read(page).splitlines(keepends=True) if line not in wrong_on_purpose(page))
    assert check_shell_commands(text, page, plugin_commands=PLUGIN_COMMANDS, inline=True)


def wrong_on_purpose(page: str) -> list[str]:
    """The table rows of a page that show a command failing on purpose (see WRONG_ON_PURPOSE)."""
    return [line for line in read(page).splitlines(keepends=True)
            if line.startswith("|") and any(wrong in line for wrong in WRONG_ON_PURPOSE)]


def test_commands_shown_failing_on_purpose_fail_the_check(check_shell_commands):
    rows = [(page, row) for page in PAGES for row in wrong_on_purpose(page)]
    assert {wrong for wrong in WRONG_ON_PURPOSE if any(wrong in row for _, row in rows)} == set(WRONG_ON_PURPOSE)
    for page, row in rows:
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check_shell_commands(row, page, inline=True)


# -- Python names ---------------------------------------------------------------------------------------------------
def _python_names() -> list[str]:
    return sorted(set(re.findall(r"`(d3core(?:\.\w+)+)`", read("docs/python-api.md"))))


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
