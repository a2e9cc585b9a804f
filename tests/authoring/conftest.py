"""Shared helpers of the authoring tests: a checker of the d3 commands shown in Markdown (fenced shell blocks,
indented code blocks and inline code spans), against the click command tree."""
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
#: a line of an indented code block (four spaces, outside fenced blocks) that runs d3: ``    d3 train ...``
INDENTED_COMMAND = re.compile(r"^ {4,}(?:\$ )?(?P<line>d3 .*)$", re.M)
#: an inline code span that runs d3: `d3 sample --shard K/N`
INLINE_COMMAND = re.compile(r"(?<!`)`(?P<line>d3 [^`]+)`(?!`)")
#: a documented optional part, ``[--embedding]``: the flag inside is checked like any other
OPTIONAL = re.compile(r"\[(-[^\]\s]+(?: [^\]\s]+)?)\]")
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


def _joined(code: str) -> str:
    """Shell text with backslash continuations joined into one line."""
    return re.sub(r"\\\n\s*", " ", code)


def _shell_lines(text: str, inline: bool):
    """``(line, spanned)`` of every shell line shown in the text: fenced bash/sh/shell blocks, the ``$ `` lines of
    console blocks, the d3 lines of indented code blocks and, with ``inline``, inline code spans that start with
    ``d3 `` (``spanned`` true)."""
    for match in FENCE.finditer(text):
        if match["lang"] not in ("bash", "console", "sh", "shell"):
            continue
        for line in _joined(match["code"]).splitlines():
            if match["lang"] == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            yield line, False
    prose = FENCE.sub("", text)
    yield from ((m["line"], False) for m in INDENTED_COMMAND.finditer(_joined(prose)))
    if inline:
        yield from ((m["line"], True) for m in INLINE_COMMAND.finditer(prose))


def _segments(line: str):
    lexer = shlex.shlex(OPTIONAL.sub(r"\1", line), posix=True, punctuation_chars=True)
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


def invocations(text: str, inline: bool = False):
    """``(tokens, line, spanned)`` of every ``d3`` (or kept-script) invocation shown in the text (see
    :func:`_shell_lines`); lines with a command substitution ``$(...)`` are left out."""
    for line, spanned in _shell_lines(text, inline):
        if "$(" in line:
            continue
        for tokens in _segments(line):
            while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
                tokens = tokens[1:]
            if tokens[:1] in (["srun"], ["torchrun"]) and "d3" in tokens:
                tokens = tokens[tokens.index("d3"):]
            if tokens[:1] == ["python"] and len(tokens) > 1 and tokens[1] in SCRIPTS:
                tokens = SCRIPTS[tokens[1]] + tokens[2:]
            if tokens[:1] in (["d3"], ["compat"]):
                yield tokens, line, spanned


def _compatibility_command() -> click.Command:
    spec = importlib.util.spec_from_file_location("_d3_compat", ROOT / "scripts" / "test_checkpoint_compatibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compatibility


def _parsed(command: click.Command, name: str, args: list[str], parent: click.Context | None):
    """``(context, positional arguments)`` after click's own parser read ``args`` for ``command``: an unknown flag, or
    a flag missing its value, raises :class:`click.UsageError`. Nothing is converted or run. The positional arguments
    are those a group leaves for its subcommand, or those a command's arguments took (``key=value`` overrides)."""
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    values, positional, _ = command.make_parser(ctx).parse_args(list(args))
    for param in command.params:
        if isinstance(param, click.Argument):
            taken = values.get(param.name)
            positional += [v for v in (taken if isinstance(taken, (list, tuple)) else [taken]) if isinstance(v, str)]
    return ctx, positional


@pytest.fixture(scope="session")
def check_shell_commands():
    """``check(text, source, plugin_commands=(), inline=False) -> int``: every ``d3 ...`` command shown in the
    text (see :func:`invocations`) names an existing (core) command, with existing flags, each given its value, and
    known ``key=value`` config keys; returns how many commands it checked."""
    from d3core.cli import make_cli
    from d3core.plugins import make_plugin_manager
    from d3core.testing.helpers import process_manager

    manager = make_plugin_manager(load_entrypoints=False, env={})
    with process_manager(manager):
        cli = make_cli(manager)
    compat = _compatibility_command()
    keys = _config_keys()

    def check(text: str, source: str, plugin_commands=(), inline: bool = False) -> int:
        checked = 0
        for tokens, line, spanned in invocations(text, inline):
            command, name, args, ctx = (cli if tokens[0] == "d3" else compat), tokens[0], tokens[1:], None
            while command is not None:
                try:
                    ctx, args = _parsed(command, name, args, ctx)
                except click.UsageError as error:
                    named = isinstance(error, click.BadOptionUsage) and args[-1:] == [error.option_name]
                    if spanned and named:  # `d3 train --resume_from` in prose names the flag; it runs nothing
                        args = args[:-1]
                        continue
                    pytest.fail(f"{source}: {error.format_message()} ({name}): {line}")
                if not isinstance(command, click.Group) or not args:
                    break
                name, args = args[0], args[1:]
                command = command.get_command(ctx, name)
                assert command is not None or (ctx.parent is None and name in plugin_commands), \
                    f"{source}: unknown command {name!r} in: {line}"
            if command is None or isinstance(command, click.Group):
                continue
            for arg in args:
                if re.match(r"^[a-z_]+(\.[a-z_0-9]+)+=", arg) and not arg.startswith("model."):
                    assert arg.split("=")[0] in keys, f"{source}: unknown config key in {arg}: {line}"
            checked += 1
        return checked

    return check
