"""``d3 sample``: draw sequences from a trained checkpoint, conditioned on requested activities."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import manager_of
from d3core.cli.options import option


@click.command(context_settings={"max_content_width": 110})
@click.argument("checkpoint", type=click.Path(path_type=Path))
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
        help="Output file; the format follows the extension: .fasta/.fa (labels in the headers), .npz (tokens, "
             "labels, metadata), .h5, .csv.")
@option("--labels", "labels", multiple=True,
        help="Conditioning: name=value pairs (dev=4,hk=1), positional values (4,1), or a CSV/TSV file of label rows "
             "(a header naming the labels). Repeatable; each label row gets --num sequences.")
@option("--labels-from", type=click.Choice(["train", "valid", "test"]), default=None,
        help="One label row per row of this split of the dataset file (the paired SP-MSE protocol).")
@option("--limit", type=click.IntRange(min=1), default=None, help="With --labels-from: only the first N rows.")
@option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="The dataset file for --labels-from and label names (default: the one recorded in the checkpoint).")
@option("--num", "-n", type=click.IntRange(min=1), default=None, help="Sequences per label row (default 1).")
@option("--steps", type=click.IntRange(min=1), default=None, help="Predictor steps (default 128).")
@option("--predictor", type=click.Choice(["euler", "analytic"], case_sensitive=False), default=None,
        help="Reverse-diffusion predictor (default: the checkpoint's sampling.predictor).")
@option("--batch-size", type=click.IntRange(min=1), default=None,
        help="Sequences per model call (default 256); bounds memory for any --num.")
@option("--seed", type=int, default=None,
        help="Random seed (default 0); the same seed gives the same sequences whatever the batch size.")
@option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available).")
@option("--precision", default=None,
        help="32-true, bf16-mixed, 16-mixed, bf16-true or 16-true (default: 32-true on CPU; on GPU the "
             "checkpoint's training precision).")
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
@click.pass_context
def sample(ctx: click.Context, checkpoint: Path, out: Path, labels: tuple[str, ...], labels_from: str | None,
           limit: int | None, data: Path | None, num: int | None, steps: int | None, predictor: str | None,
           batch_size: int | None, seed: int | None, device: str | None, precision: str | None,
           force: bool | None, no_progress: bool | None) -> None:
    """Generate DNA sequences from CHECKPOINT (any registered format; EMA weights).

    \b
    Examples:
      d3 sample run/checkpoints/last.ckpt --labels dev=4,hk=1 --num 500 -o designed.fasta
      d3 sample run/checkpoints/last.ckpt --labels 4,1 --labels 0,0 --num 100 -o two_groups.npz
      d3 sample run/checkpoints/last.ckpt --labels rows.csv -o designed.csv
      d3 sample run/checkpoints/last.ckpt --labels-from test -o test_paired.npz     (then: d3 evaluate)
    """
    from d3core.errors import D3UserError
    from d3core.generation.api import SamplingModel
    from d3core.generation.io import format_of
    from d3core.generation.sampler import DEFAULT_BATCH_SIZE, DEFAULT_STEPS

    format_of(out)  # an unknown extension fails before the model loads
    if out.exists() and not force:
        raise D3UserError(f"{out}: already exists; choose another -o or pass --force to replace it")
    if labels and labels_from:
        raise D3UserError("--labels and --labels-from exclude each other; give one")
    if limit is not None and not labels_from:
        raise D3UserError("--limit applies to --labels-from only")
    sm = SamplingModel.load(checkpoint, device, data=data, manager=manager_of(ctx))
    source_rows = None
    if labels_from:
        rows, source_rows = sm.split_labels(labels_from, data=data, limit=limit)
        source = f"{labels_from} split ({len(rows)} rows)"
    else:
        rows = sm.parse_labels(list(labels))
        source = f"{len(rows)} label row(s)" if len(rows) else "unconditional"
    num = 1 if num is None else num
    steps = DEFAULT_STEPS if steps is None else steps
    sm.resolve(precision, predictor)  # a bad request fails before anything is announced or written
    _, total = sm.plan_rows(rows if sm.num_labels else None, num)
    click.echo(f"d3: sampling {total} sequence(s) of {sm.length} bp from {checkpoint} ({source}, {num} per row; "
               f"{steps} steps) on {sm.device}", err=True)
    bar = None
    if not no_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="seq", desc="d3 sample", leave=False, disable=None, dynamic_ncols=True,
                   bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")
    done = [0.0]

    def on_step(work: int, total_work: int) -> None:
        if bar is not None:
            value = work * total / max(total_work, 1)
            bar.update(value - done[0])
            done[0] = value

    try:
        summary = sm.sample_to_file(out, rows if sm.num_labels else None, num, source_rows=source_rows,
                                    reference_split=labels_from, steps=steps, predictor=predictor,
                                    batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size,
                                    seed=0 if seed is None else seed, precision=precision, overwrite=bool(force),
                                    on_step=on_step,
                                    extra_metadata={"labels_source": list(labels) or labels_from or None})
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"d3: wrote {summary['num']} sequences to {summary['path']} in {summary['seconds']:.1f} s "
               f"({summary['per_second']:.1f} seq/s; predictor {summary['predictor']}, precision "
               f"{summary['precision']}, seed {0 if seed is None else seed})")
