"""Shared helpers of the authoring tests: a checker of the d3 commands written in Markdown shell blocks."""
from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import click
import pytest
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.S | re.M)
#: the kept scripts of the original repository -> the command they run
SCRIPTS = {"scripts/train_lightning.py": ["d3", "train"], "scripts/convert_checkpoints.py": ["d3", "convert"],
           "scripts/test_checkpoint_compatibility.py": ["compat"]}


def _config_keys() -> set[str]:
    def leaves(config: DictConfig, prefix: str = "") -> list[str]:
        keys = []
        for key, value in config.items():
            keys += leaves(value, f"{prefix}{key}.") if isinstance(value, DictConfig) else [f"{prefix}{key}"]
        return keys

    return set(leaves(OmegaConf.load(ROOT / "d3core" / "config" / "base.yaml")))


def _shell_lines(text: str):
    for match in FENCE.finditer(text):
        if match["lang"] not in ("bash", "console", "sh", "shell"):
            continue
        code = re.sub(r"\\\n\s*", " ", match["code"])
        for line in code.splitlines():
            if match["lang"] == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if "$(" not in line:
                yield line


def _segments(line: str):
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    segment: list[str] = []
    for token in lexer:
        if token in ("&&", "||", "|", ";", "&"):
            yield segment
            segment = []
        else:
            segment.append(token)
    yield segment


def invocations(text: str):
    """``(tokens, line)`` of every ``d3`` (or kept-script) invocation in the text's shell blocks."""
    for line in _shell_lines(text):
        for tokens in _segments(line):
            while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
                tokens = tokens[1:]
            if tokens[:1] in (["srun"], ["torchrun"]) and "d3" in tokens:
                tokens = tokens[tokens.index("d3"):]
            if tokens[:1] == ["python"] and len(tokens) > 1 and tokens[1] in SCRIPTS:
                tokens = SCRIPTS[tokens[1]] + tokens[2:]
            if tokens[:1] in (["d3"], ["compat"]):
                yield tokens, line


def _compatibility_command() -> click.Command:
    spec = importlib.util.spec_from_file_location("_d3_compat", ROOT / "scripts" / "test_checkpoint_compatibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compatibility


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in p.opts + p.secondary_opts} | {"-h", "--help"}


@pytest.fixture(scope="session")
def check_shell_commands():
    """``check(text, source, plugin_commands=()) -> int``: every ``d3 ...`` command in the text's shell blocks names
    an existing (core) command, with existing flags and known ``key=value`` config keys; returns how many."""
    from d3core.cli import make_cli
    from d3core.plugins import make_plugin_manager
    from d3core.testing.helpers import process_manager

    manager = make_plugin_manager(load_entrypoints=False, env={})
    with process_manager(manager):
        cli = make_cli(manager)
    compat = _compatibility_command()
    keys = _config_keys()

    def check(text: str, source: str, plugin_commands=()) -> int:
        checked = 0
        for tokens, line in invocations(text):
            command, args = (cli, tokens[1:]) if tokens[0] == "d3" else (compat, tokens[1:])
            ctx = click.Context(command)
            while isinstance(command, click.Group):
                while args and args[0].startswith("-"):
                    assert args[0] in _options(command), f"{source}: {args[0]} is not an option of d3: {line}"
                    args = args[1:]
                if not args:
                    break
                sub = command.get_command(ctx, args[0])
                if sub is None:
                    assert command is cli and args[0] in plugin_commands, f"{source}: unknown command in: {line}"
                    command = None
                    break
                command, args = sub, args[1:]
            if command is None or isinstance(command, click.Group):
                continue
            for arg in args:
                if arg.startswith("-") and arg != "-" and not re.match(r"^-\d", arg):
                    assert arg.split("=")[0] in _options(command), \
                        f"{source}: {arg} is not an option of {command.name}: {line}"
                elif re.match(r"^[a-z_]+(\.[a-z_0-9]+)+=", arg) and not arg.startswith("model."):
                    assert arg.split("=")[0] in keys, f"{source}: unknown config key in {arg}: {line}"
            checked += 1
        return checked

    return check
