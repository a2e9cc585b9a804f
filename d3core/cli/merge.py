"""``d3 merge``: join the shard files of ``d3 sample --shard K/N`` into one design set."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import hold_output
from d3core.cli.options import option
from d3core.seqfiles.table import suffix_list


@click.command(context_settings={"max_content_width": 110})
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
        help=f"The joined file; the format follows the extension ({suffix_list()}), any shard format in.")
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
def merge(shards: tuple[Path, ...], out: Path, force: bool | None) -> None:
    """Join SHARDS written by 'd3 sample --shard K/N' or 'd3 design --shard K/N' (or under torchrun/srun) into OUT.

    The sequences are ordered by their index (the d3_<i> ids); every index of the design set must be present exactly
    once, and the shards must come from the same checkpoint, seed and settings. The result holds exactly the
    sequences a single 'd3 sample' process would have written.

    \b
    Example:
      d3 sample CKPT --labels dev=4,hk=0 --num 1000 --shard 1/2 -o designed.fasta     (on one GPU or node)
      d3 sample CKPT --labels dev=4,hk=0 --num 1000 --shard 2/2 -o designed.fasta     (on another)
      d3 merge designed.shard1of2.fasta designed.shard2of2.fasta -o designed.fasta
      d3 design CKPT --oracle o.ckpt --specific-to HepG2 --labels 2,0,0 --num 500 --shard 1/4 -o pool.npz   (x4)
      d3 merge pool.shard*of4.npz -o pool.fasta          (design shards are .npz; the pool in any design format)
    """
    from d3core.design.shards import is_design_file, merge_designs
    from d3core.generation.shards import merge_shards

    hold_output(out, force=force)
    if shards and is_design_file(shards[0]):  # d3 design --shard K/N: .npz design shards, any design format out
        summary = merge_designs(list(shards), out, overwrite=bool(force))
        left = f"; {summary['left_out']} left out by the synthesis rules" if summary["left_out"] else ""
        click.echo(f"d3: merged {summary['shards']} design shard(s) into {summary['path']} ({summary['num']} "
                   f"designs{left})")
        return
    summary = merge_shards(list(shards), out, overwrite=bool(force))
    click.echo(f"d3: merged {summary['shards']} shard file(s) into {summary['path']} ({summary['num']} sequences)")
