"""The click app: error conventions, both flag spellings, plugins list/show output."""
from __future__ import annotations

import json

import click
from click.testing import CliRunner

from d3core.api import hookimpl
from d3core.cli import make_cli
from d3core.cli.options import flag_names, option
from d3core.errors import D3UserError


class Failing:
    @hookimpl
    def register_commands(self, cli):
        @cli.command("explode")
        @option("--bad-value", default=None)
        def explode(bad_value):
            """Raise a user error."""
            raise D3UserError(f"data.h5: key 'X_train' is missing (value {bad_value}); run 'd3 data info data.h5'")


def test_user_errors_exit_2_with_one_line_and_no_traceback(bare_pm):
    bare_pm.register(Failing(), "d3-failing")
    result = CliRunner().invoke(make_cli(bare_pm), ["explode", "--bad_value", "7"])
    assert result.exit_code == 2
    assert result.output == "Error: data.h5: key 'X_train' is missing (value 7); run 'd3 data info data.h5'\n"


def test_traceback_flag_reraises(bare_pm):
    bare_pm.register(Failing(), "d3-failing")
    result = CliRunner().invoke(make_cli(bare_pm), ["--traceback", "explode"])
    assert isinstance(result.exception, D3UserError)


def test_a_command_uses_the_apps_manager_and_leaves_the_process_wide_one_as_it_was(bare_pm):
    from d3core import plugins

    seen = []

    class Probe:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("probe")
            def probe():
                """Record the process-wide manager."""
                seen.append(plugins.get_plugin_manager())

    bare_pm.register(Probe(), "d3-probe")
    before = plugins._DEFAULT
    result = CliRunner().invoke(make_cli(bare_pm), ["probe"])
    assert result.exit_code == 0, result.output
    assert seen == [bare_pm]  # library code called by the command sees the app's plugins
    assert plugins._DEFAULT is before  # and the next test, or notebook cell, does not


def test_flag_names_accept_both_spellings():
    assert flag_names("--dry-run") == ("--dry-run", "--dry_run")
    assert flag_names("--max_steps", "-m") == ("--max_steps", "--max-steps", "-m")
    assert flag_names("--seed") == ("--seed",)

    @click.command()
    @option("--max-steps", type=int)
    def cmd(max_steps):
        click.echo(max_steps)

    assert CliRunner().invoke(cmd, ["--max_steps", "3"]).output == "3\n"
    assert CliRunner().invoke(cmd, ["--max-steps", "4"]).output == "4\n"


def test_plugins_list_kind_json_and_table(bare_pm):
    app = make_cli(bare_pm)
    result = CliRunner().invoke(app, ["plugins", "list", "--kind", "logger", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == {"tensorboard", "csv", "wandb", "mlflow"}
    assert rows["wandb"]["available"] in (True, False) and rows["tensorboard"]["builtin"] is True
    table = CliRunner().invoke(app, ["plugins", "list", "--all"])
    assert "d3core.builtin.loggers" in table.output and "loggers: tensorboard, csv, wandb, mlflow" in table.output
    empty = CliRunner().invoke(app, ["plugins", "list"])
    assert "No d3 plugins installed" in empty.output


def test_plugins_show_and_errors(bare_pm):
    app = make_cli(bare_pm)
    shown = CliRunner().invoke(app, ["plugins", "show", "callbacks", "LR-monitor"])
    assert shown.exit_code == 0, shown.output
    assert "factory:     d3core.builtin.callbacks:make_lr_monitor" in shown.output
    unknown = CliRunner().invoke(app, ["plugins", "show", "logger", "tensorbored"])
    assert unknown.exit_code == 2 and "did you mean 'tensorboard'" in unknown.output
    bad_kind = CliRunner().invoke(app, ["plugins", "list", "--kind", "optimizer"])
    assert bad_kind.exit_code == 2 and "unknown component kind 'optimizer'" in bad_kind.output
