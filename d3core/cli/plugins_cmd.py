"""``d3 plugins``: what is installed and who provides what. Never imports torch."""
from __future__ import annotations

import json
from typing import Any

import click

from d3core.cli.app import D3Group, manager_of
from d3core.cli.plugins_new import new as new_plugin
from d3core.cli.tables import format_table
from d3core.registry import KINDS, normalize_kind

_KIND_HELP = "One of: " + ", ".join(KINDS) + " (singular, '-' or '_' accepted)."


def _provides_text(provides: dict[str, list[str]]) -> str:
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in provides.items() if names) or "-"


def _metadata_text(metadata: dict[str, Any]) -> str:
    parts = []
    for key, value in metadata.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        parts.append(f"{key}={value}")
    return " ".join(parts)


@click.group(cls=D3Group)
def plugins() -> None:
    """Inspect installed plugins and the components they register."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (name, version, hooks, provides, ...).")
@click.option("--all", "include_builtins", is_flag=True, help="Include the built-in plugins of d3core.")
@click.option("--kind", default=None, help="List the components of one kind instead of plugins. " + _KIND_HELP)
@click.pass_context
def list_plugins(ctx: click.Context, as_json: bool, include_builtins: bool, kind: str | None) -> None:
    """List installed plugins (or, with --kind, every registered component of one kind)."""
    manager = manager_of(ctx)
    if kind:
        kind = normalize_kind(kind)
        entries = manager.registry(kind).entries()
        if as_json:
            click.echo(json.dumps([e.as_dict() for e in entries], indent=2))
            return
        rows = [(e.name, ",".join(e.aliases), str(e.provider), e.description or "", _metadata_text(e.metadata))
                for e in entries]
        click.echo(format_table(("NAME", "ALIASES", "PROVIDER", "DESCRIPTION", "DETAILS"), rows))
        return
    summaries = manager.plugin_summaries(include_builtins=include_builtins)
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        return
    if not summaries:
        click.echo("No d3 plugins installed (see 'd3 plugins list --all' for the built-ins).")
        return
    rows = [(s["name"], s["version"] or ("built-in" if s["builtin"] else "?"),
             f"ERROR: {s['error']}" if s["error"] else _provides_text(s["provides"])) for s in summaries]
    click.echo(format_table(("PLUGIN", "VERSION", "PROVIDES"), rows))


@plugins.command("show")
@click.argument("kind")
@click.argument("name")
@click.pass_context
def show_plugin(ctx: click.Context, kind: str, name: str) -> None:
    """Show one component: provider, description, factory and its configuration defaults.

    KIND is the component kind (dataset, architecture, checkpoint-format, logger, callback); NAME its name, or
    'distribution:name' to pick one provider.
    """
    entry = manager_of(ctx).get(normalize_kind(kind), name)
    details = entry.as_dict()
    lines = [f"{entry.kind[:-1].replace('_', ' ')}: {entry.name}",
             f"  provider:    {entry.provider}" + ("  (built-in)" if entry.provider.builtin else ""),
             f"  factory:     {entry.factory_path}"]
    if entry.aliases:
        lines.append(f"  aliases:     {', '.join(entry.aliases)}")
    if entry.description:
        lines.append(f"  description: {entry.description}")
    for key in sorted(set(details) - {"name", "aliases", "provider", "version", "builtin", "factory",
                                      "description", "replace"}):
        lines.append(f"  {key + ':':<12} {details[key]}")
    lines.extend(_defaults_lines(entry.load()))
    click.echo("\n".join(lines))


def _defaults_lines(factory: Any) -> list[str]:
    """Configuration defaults a factory declares (``presets`` of an architecture, ``default_config``)."""
    lines = []
    for attr in ("default_config", "presets"):
        value = getattr(factory, attr, None)
        if value:
            lines.append(f"  {attr}:")
            text = json.dumps(value, indent=2, default=str)
            lines.extend("    " + line for line in text.splitlines())
    doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
    if doc:
        lines.append(f"  doc:         {doc[0]}")
    return lines


plugins.add_command(new_plugin)
