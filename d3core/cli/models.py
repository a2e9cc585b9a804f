"""``d3 models``: the published models, oracles and data files plugins register, listed and fetched by name."""
from __future__ import annotations

import json

import click

from d3core.cli.app import D3Group, manager_of
from d3core.cli.options import option
from d3core.cli.tables import format_table
from d3core.errors import D3UserError


@click.group(cls=D3Group)
def models() -> None:
    """Published models, oracles and data, by name.

    \b
      d3 models list                          every registered file: kind, architecture, dataset, size, cached
      d3 models fetch deepstarr-tran          download into the cache (progress bar, retries, sha256 checked)
      d3 sample deepstarr-tran --labels dev=2,hk=0 -o designed.fasta   any checkpoint/oracle/data path takes a name

    Files are cached in $D3_DATA_DIR/models (default: the user cache, ~/.cache/d3/models on Linux); $D3_MODELS_URL replaces the folder of
    every download URL (a mirror). Plugins register files with the register_models hook.
    """


@models.command("list")
@option("--json", "as_json", is_flag=True, default=None, help="Print JSON (one object per file).")
@option("--kind", type=click.Choice(["model", "oracle", "data"]), default=None, help="Only files of this kind.")
def list_cmd(as_json: bool | None, kind: str | None) -> None:
    """List the registered published files and whether each is cached."""
    from d3core.checkpoints.published import published_files
    from d3core.data.fetch import human_size

    files = [f for f in published_files(manager_of(click.get_current_context())) if kind in (None, f.kind)]
    if as_json:
        click.echo(json.dumps([{"name": f.name, "kind": f.kind, "arch": f.arch, "dataset": f.dataset,
                                "file": f.file_name, "size": f.size, "sha256": f.sha256, "url": f.url,
                                "cached": f.cached, "path": str(f.path), "provider": f.provider} for f in files],
                              indent=2))
        return
    if not files:
        click.echo("no published files registered; install a plugin that registers some (e.g. d3-ckpt-d3dna)")
        return
    rows = [(f.name, f.kind, f.arch or "", f.dataset or "", f.file_name, human_size(f.size) if f.size else "",
             "yes" if f.cached else "no") for f in files]
    click.echo(format_table(("name", "kind", "arch", "dataset", "file", "size", "cached"), rows))


@models.command("fetch")
@click.argument("names", nargs=-1, required=True)
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
def fetch_cmd(names: tuple[str, ...], no_progress: bool | None) -> None:
    """Download the published files NAMES into the cache (kept when present and its sha256 checks out)."""
    from d3core.checkpoints.published import fetch_published, find_published, published_files

    manager = manager_of(click.get_current_context())
    chosen = []
    for name in names:
        file = find_published(name, manager)
        if file is None:
            known = ", ".join(f.name for f in published_files(manager)) or "none"
            raise D3UserError(f"d3 models fetch {name}: no published file of that name (registered: {known}); "
                              "'d3 models list' shows them")
        chosen.append(file)
    for file in chosen:
        path = fetch_published(file, progress=not no_progress, echo=click.echo)
        click.echo(f"{file.name}: {path}")
