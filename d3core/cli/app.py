"""The click app factory. ``make_cli(manager)`` builds a fresh app, so tests need no module reloads."""
from __future__ import annotations

import os
import sys
import warnings
from difflib import get_close_matches

import click

import d3core
from d3core.errors import D3UserError
from d3core.module_attr import resolve_module_attr
from d3core.plugins import D3PluginManager, get_plugin_manager, process_wide_manager

#: core command groups, "module:attr"; plugins add theirs through the register_commands hook
CORE_COMMANDS = ("d3core.cli.plugins_cmd:plugins", "d3core.cli.data:data", "d3core.cli.train:train",
                 "d3core.cli.checkpoint:convert", "d3core.cli.checkpoint:checkpoint",
                 "d3core.cli.sample:sample", "d3core.cli.merge:merge", "d3core.cli.oracle:oracle",
                 "d3core.cli.evaluate:evaluate", "d3core.cli.score:score", "d3core.cli.design:design",
                 "d3core.cli.models:models")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def debug_enabled(ctx: click.Context | None = None) -> bool:
    """True under ``--traceback`` or ``D3_DEBUG=1``: show tracebacks and third-party warnings."""
    if os.environ.get("D3_DEBUG", "").strip() not in {"", "0"}:
        return True
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.meta.get("d3.traceback"))


#: click's "no arguments: show the help" (click >= 8.2), shown as click shows it
_HELP_REQUESTS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _report_usage_error(exc: click.UsageError, ctx: click.Context | None) -> None:
    """Print click's usage error as one line pointing to the command's ``--help`` and exit 2; re-raise it when
    debugging, and leave click's "no arguments: show the help" to click."""
    if debug_enabled(ctx) or isinstance(exc, _HELP_REQUESTS):
        raise exc
    message = exc.format_message().rstrip()
    where = f" See '{exc.ctx.command_path} --help'." if exc.ctx is not None else ""
    click.echo(f"Error: {message}{'' if message.endswith(('.', '?', ')')) else '.'}{where}", err=True)
    raise click.exceptions.Exit(exc.exit_code) from exc


class D3Group(click.Group):
    """A click group whose errors are one line on stderr and exit code 2, without traceback.

    :class:`D3UserError` -> ``Error: ...``; click's usage errors (bad option value, unknown command) -> the same one
    line instead of click's usage block. ``D3_DEBUG=1`` lets both propagate (``--traceback`` too, once the root
    options are parsed).
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:  # this group's own options, e.g. 'd3 --bogus'
            _report_usage_error(exc, parent)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            close = get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} Commands: {', '.join(self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except D3UserError as exc:
            if debug_enabled(ctx):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            _report_usage_error(exc, ctx)


def hold_output(path, *, force: bool | None = False, flag: str = "-o", folder: bool = False):
    """Claim the output ``path`` for the rest of this command (:func:`d3core.locks.claim_output`: a second d3
    process writing it is refused at once; an existing ``path`` needs ``force``; an unwritable folder is one line);
    released when the command ends, however it ends. Returns ``path``."""
    from d3core.locks import claim_output

    return click.get_current_context().with_resource(
        claim_output(path, overwrite=bool(force), flag=flag, folder=folder))


def manager_of(ctx: click.Context) -> D3PluginManager:
    """The plugin manager the app was built with."""
    return ctx.find_root().obj


def make_cli(manager: D3PluginManager | None = None) -> click.Group:
    """Build the ``d3`` click app around ``manager`` (default: the process-wide one from the entry points)."""
    manager = manager or get_plugin_manager()

    @click.group(cls=D3Group, context_settings=CONTEXT_SETTINGS)
    @click.version_option(d3core.__version__, "-V", "--version", package_name="d3core",
                          message="d3 (d3core) %(version)s")
    @click.option("--traceback", is_flag=True, help="Show full tracebacks and third-party warnings (or D3_DEBUG=1).")
    @click.pass_context
    def cli(ctx: click.Context, traceback: bool) -> None:
        """d3: design DNA with tunable regulatory activity (score-entropy discrete diffusion).

        \b
        Typical session:
          d3 plugins list                        what is installed, who provides what
          d3 data synth deepstarr --n 2000 --out data/ds.h5
          d3 train --dataset deepstarr --arch Tran --data data/ds.h5 --preset tiny

        Plugins (datasets, architectures, checkpoint formats, loggers, callbacks, commands) are found through the
        'd3' entry-point group; D3_LOAD_PLUGINS / D3_DISABLE_PLUGINS select them, D3_STRICT_PLUGINS=1 makes a
        broken plugin an error.
        """
        ctx.meta["d3.traceback"] = traceback
        ctx.obj = manager
        ctx.with_resource(process_wide_manager(manager))  # for this command only
        if not debug_enabled(ctx):
            warnings.filterwarnings("ignore")
            warnings.filterwarnings("default", module=r"d3")
            os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO lines when MLflow makes its store

    for target in CORE_COMMANDS:
        cli.add_command(resolve_module_attr(target))
    with process_wide_manager(manager):
        manager.call_each("register_commands", cli=cli)
    return cli


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"d3: warning: {message}\n"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    if not debug_enabled():
        warnings.formatwarning = _one_line_warning
    try:
        cli = make_cli()
    except D3UserError as exc:  # e.g. a broken plugin under D3_STRICT_PLUGINS=1
        if debug_enabled() or "--traceback" in (argv or sys.argv):
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    cli.main(args=argv, prog_name="d3")
