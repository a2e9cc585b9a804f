"""``d3 plugins new {dataset|architecture|checkpoint-format} NAME``: scaffold a pip-installable plugin package."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.options import option
from d3core.errors import D3UserError
from d3core.registry import normalize_name


def _installed_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _clash_warning(ctx: click.Context, kind: str, name: str, distribution: str) -> str | None:
    """A warning line when ``name`` is already registered by an installed plugin (the names would clash)."""
    manager = ctx.find_root().obj
    if manager is None:
        return None
    try:
        entries = [e for e in manager.registry(kind).entries() if normalize_name(name) in e.keys]
    except Exception:  # a broken registry must not stop scaffolding
        return None
    if not entries:
        return None
    providers = sorted({e.provider.distribution for e in entries})
    choices = " or ".join(f"'{dist}:{name}'" for dist in [*providers, distribution])
    return (f"d3: warning: {kind[:-1].replace('_', ' ')} {name!r} is already registered by "
            f"{', '.join(str(e.provider) for e in entries)}; with both installed, select one as {choices} "
            "(or pick another NAME)")


@click.command("new", context_settings={"max_content_width": 110})
@click.argument("kind", metavar="KIND")
@click.argument("name")
@option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Folder to create the package in (default: the current directory); the package is OUT/<distribution>.")
@option("--length", type=int, default=None, help="dataset: the sequence length L in bp (default 200).")
@option("--labels", default=None, metavar="NAMES",
        help="dataset: comma-separated label names, one per activity column (default: activity).")
@option("--force", is_flag=True, default=None, help="Write into an existing, non-empty package folder.")
@click.pass_context
def new(ctx: click.Context, kind: str, name: str, out: Path | None, length: int | None, labels: str | None,
        force: bool | None) -> None:
    """Create a new plugin package: KIND is dataset, architecture or checkpoint-format; NAME its registered name.

    The package has a pyproject.toml with the entry point, a light __init__.py with the hook, a working component
    (a dataset over an HDF5 file in the DeepSTARR layout with a tiny example file, a small convolutional network,
    or a single-file checkpoint format), a README and tests that use the d3core.testing fixtures.

    \b
    Examples:
      d3 plugins new dataset my-enhancers --length 230 --labels k562,hepg2
      d3 plugins new architecture MyNet --out plugins/
      d3 plugins new checkpoint-format npz
    Then: pip install -e ./d3-my-enhancers && pytest ./d3-my-enhancers && d3 plugins list
    """
    from d3core.scaffold import canonical_kind, names_for, scaffold

    canonical = canonical_kind(kind)
    names = names_for(canonical, name)
    installed = _installed_version(names["dist"])
    if installed is not None:
        raise D3UserError(f"a distribution named {names['dist']} is already installed (version {installed}); a new "
                          "plugin of that name would replace it: choose another NAME")
    warning = _clash_warning(ctx, canonical, names["name"], names["dist"])
    result = scaffold(canonical, name, out, length=length, labels=labels, force=bool(force))
    if warning:
        click.echo(warning, err=True)
    click.echo(f"created {result.distribution} ({result.kind_label} '{result.name}', module {result.module}) "
               f"in {result.path}")
    for relative in result.files:
        click.echo(f"  {result.path / relative}")
    first_use = {
        "datasets": f"d3 train --dataset {result.name} --arch Tran --preset tiny --fast_dev_run",
        "architectures": f"d3 train --dataset deepstarr --arch {result.name} --preset tiny --fast_dev_run",
        "checkpoint_formats": f"d3 convert runs/RUN/checkpoints/last.ckpt --to {result.name} --out converted/",
    }[result.kind]
    steps = [(f"pip install -e {result.path}", "registers it (entry-point group 'd3')"),
             (f"pytest {result.path}", "its own tests"),
             ("d3 plugins list", f"{result.distribution} is listed"),
             (first_use, "")]
    width = max(len(command) for command, _ in steps) + 2
    click.echo("next:")
    for command, comment in steps:
        click.echo(f"  {command.ljust(width)}# {comment}" if comment else f"  {command}")
