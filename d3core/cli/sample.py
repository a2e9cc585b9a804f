"""``d3 sample``: draw sequences from a trained checkpoint, conditioned on requested activities."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import hold_output, manager_of
from d3core.cli.options import FiniteFloat, PathOrPublished, option, synthesis_options
from d3core.progress import progress_bar
from d3core.predictors import predictor_names
from d3core.seqfiles.table import suffix_list


@click.command(context_settings={"max_content_width": 110})
@click.argument("checkpoint", type=PathOrPublished(("model",)))
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
        help=f"Output file; the format follows the extension: {suffix_list()} (labels, ids and metadata in every "
             "format). With --shard K/N: <stem>.shard<K>of<N><ext> beside it.")
@option("--labels", "labels", multiple=True,
        help="Conditioning: name=value pairs (dev=4,hk=1), positional values (4,1), or a CSV/TSV file of label rows "
             "(a header naming the labels). Repeatable; each label row gets --num sequences.")
@option("--labels-from", type=click.Choice(["train", "valid", "test"]), default=None,
        help="One label row per row of this split of the dataset file (the paired SP-MSE protocol).")
@option("--limit", type=click.IntRange(min=1), default=None, help="With --labels-from: only the first N rows.")
@option("--data", type=PathOrPublished(("data",), dir_okay=False), default=None,
        help="The dataset file for --labels-from and label names (default: the one recorded in the checkpoint).")
@option("--num", "-n", type=click.IntRange(min=1), default=None, help="Sequences per label row (default 1).")
@option("--guidance", type=FiniteFloat(min=0), default=None,
        help="Classifier-free guidance strength G: 1 = plain conditional sampling (default), 0 = unconditional, "
             "G > 1 = follow the labels more strongly (2-4 is typical). Needs a model trained with label dropout "
             "(training.label_dropout > 0, the default for new runs); costs two network calls per step.")
@option("--template", default=None,
        help="Fixed positions: a sequence of ACGTN (N = free; exactly L letters), or a FASTA file of such "
             "templates (one for all designs, or one per design). Fixed bases are kept exactly; the free ones are "
             "designed around them.")
@option("--fix", "fixes", multiple=True,
        help="Fix a segment: START:SEQUENCE with START counted from 1 (--fix 1:GTCCAA --fix 240:ACGTTAGCA). "
             "Repeatable; combines with --template.")
@option("--start-from", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Make variants of these sequences (FASTA; one for all designs or one per design): each is noised to "
             "time --start-at and denoised again.")
@option("--start-at", type=FiniteFloat(min=0, max=1, min_open=True), default=None,
        help="With --start-from: the diffusion time to start at, in (0, 1] (default 0.5; small = close variants, "
             "1 = unrelated to the start sequence).")
@option("--steps", type=click.IntRange(min=1), default=None,
        help="Predictor steps (default: the run's sampling.steps, else the sequence length L, as the original "
             "generated; fewer steps are faster and slightly less faithful, see docs/sampling.md).")
@option("--predictor", type=click.Choice(predictor_names(), case_sensitive=False), default=None,
        help="Reverse-diffusion predictor (default: the run's sampling.predictor, else analytic, as the original "
             "generated).")
@click.option("--denoise/--no-denoise", default=None,
        help="The final denoising step (default on, the original protocol; config sampling.noise_removal).")
@option("--batch-size", type=click.IntRange(min=1), default=None,
        help="Sequences per model call (default 256); bounds memory for any --num. Does not change the sequences.")
@option("--seed", type=int, default=None,
        help="Random seed (default 0); the same seed gives the same sequences whatever the batch size or --shard.")
@option("--shard", default=None,
        help="K/N: draw only shard K of N of the rows (N processes or GPUs make one design set; join the files "
             "with d3 merge). Under torchrun or srun the rank variables set it; --shard 1/1 turns that off.")
@option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available; cuda:LOCAL_RANK under "
                                       "torchrun/srun).")
@option("--precision", default=None,
        help="32-true, bf16-mixed, 16-mixed, bf16-true or 16-true (default: 32-true on CPU; on GPU the "
             "checkpoint's training precision). The model's weights are never changed (a copy is cast).")
@synthesis_options
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
@click.pass_context
def sample(ctx: click.Context, checkpoint: Path, out: Path, labels: tuple[str, ...], labels_from: str | None,
           limit: int | None, data: Path | None, num: int | None, guidance: float | None, template: str | None,
           fixes: tuple[str, ...], start_from: Path | None, start_at: float | None, steps: int | None,
           predictor: str | None, denoise: bool | None, batch_size: int | None, seed: int | None, shard: str | None,
           device: str | None, precision: str | None, gc: str | None, max_homopolymer: int | None,
           avoid: tuple[str, ...], synthesis_attempts: int | None, force: bool | None,
           no_progress: bool | None) -> None:
    """Generate DNA sequences from CHECKPOINT (any registered format; EMA weights).

    Defaults are the original D3 generation protocol (its run_sample.py): the analytic predictor, as many steps as
    the sequence is long (L), the final denoising step, guidance 1, fp32 on the CPU. A run's own sampling.* config
    replaces them; the flags here override both. Same seed, same sequences: whatever --batch-size or --shard.

    \b
    Examples:
      d3 sample run/checkpoints/last.ckpt --labels dev=4,hk=1 --num 500 -o designed.fasta
      d3 sample run/checkpoints/last.ckpt --labels dev=4,hk=0 --guidance 3 --num 500 -o sharper.fasta
      d3 sample run/checkpoints/last.ckpt --labels 4,1 --labels 0,0 --num 100 -o two_groups.npz
      d3 sample run/checkpoints/last.ckpt --labels dev=4,hk=0 --fix 1:GTCCAA --fix 244:TTAGC -o flanked.fasta
      d3 sample run/checkpoints/last.ckpt --labels dev=4,hk=0 --start-from mine.fasta --start-at 0.3 -o variants.fa
      d3 sample run/checkpoints/last.ckpt --labels-from test -o test_paired.npz     (then: d3 evaluate)
      d3 sample run/checkpoints/last.ckpt --labels dev=4,hk=0 --gc 0.4:0.6 --max-homopolymer 5 --avoid BsaI -o pool.fa
      torchrun --nproc-per-node 4 $(which d3) sample CKPT --labels dev=4,hk=0 --num 100000 -o big.h5
      d3 merge big.shard*of4.h5 -o big.h5
    """
    from d3core.errors import D3UserError
    from d3core.generation.allocator import keep_freed_memory
    from d3core.generation.sampling_model import SamplingModel
    from d3core.generation.constraints import rules_from_flags
    from d3core.seqfiles import format_of
    from d3core.generation.memory import FLOAT_BYTES, check_request
    from d3core.generation.sampler import DEFAULT_BATCH_SIZE
    from d3core.generation.shards import local_device, parse_shard, shard_from_environment

    format_of(out, "sample")  # an unknown extension fails before the model loads
    rules = rules_from_flags(gc, max_homopolymer, avoid, attempts=synthesis_attempts)
    keep_freed_memory()  # reuse freed activations instead of page-faulting them in at every step (CPU)
    if labels and labels_from:
        raise D3UserError("--labels and --labels-from exclude each other; give one")
    if limit is not None and not labels_from:
        raise D3UserError("--limit applies to --labels-from only")
    chosen = parse_shard(shard) if shard is not None else shard_from_environment()
    chosen = chosen if chosen is not None and chosen.count > 1 else None
    if chosen is not None and rules is not None:
        raise D3UserError(f"--shard {chosen} with synthesis rules: d3 sample's shard files cannot show the sequences "
                          "the rules leave out, so d3 merge would take them for missing shards; use d3 design "
                          "--method none (plain sampling, same rules) with --shard, which d3 merge joins")
    target = hold_output(chosen.path(out) if chosen is not None else out, force=force)
    if device is None and chosen is not None and chosen.source != "--shard":
        device = local_device()
    sm = SamplingModel.load(checkpoint, device, data=data, manager=manager_of(ctx))
    source_rows = None
    if labels_from:
        rows, source_rows = sm.split_labels(labels_from, data=data, limit=limit)
        source = f"{labels_from} split ({len(rows)} rows)"
    else:
        rows = sm.parse_labels(list(labels))
        source = f"{len(rows)} label row(s)" if len(rows) else "unconditional"
    num = 1 if num is None else num
    options = sm.resolve(steps=steps, predictor=predictor, denoise=denoise, guidance=guidance, precision=precision,
                         batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size,
                         seed=0 if seed is None else seed, template=sm.template(template, fixes),
                         start=sm.start_sequences(start_from) if start_from is not None else None, start_at=start_at,
                         rules=rules)
    label_rows = rows if sm.num_labels else None
    chunk = min(options.batch_size, num * max(len(rows), 1))
    check_request(sm, flag=f"--num {num} x --batch-size {chunk}", rows=chunk * (1 if options.guidance == 1.0 else 2),
                  extra=len(rows) * num * sm.num_labels * FLOAT_BYTES, extra_detail=f"labels of --num {num} sequences",
                  fix="lower --batch-size (the sequences do not depend on it), or split --num with --shard K/N")
    _, total = sm.plan_rows(label_rows, num, options)
    first, stop = chosen.rows(total) if chosen is not None else (0, total)
    click.echo(f"d3: sampling {stop - first} sequence(s) of {sm.length} bp from {checkpoint} ({source}, {num} per row"
               f"{_describe(options, chosen, first, stop)}) on {sm.device}", err=True)
    bar = progress_bar(stop - first, "d3 sample", enabled=not no_progress)
    done = [0.0]

    def on_step(work: int, total_work: int) -> None:
        value = work * (stop - first) / max(total_work, 1)
        bar.update(value - done[0])
        done[0] = value

    try:
        summary = sm.sample_to_file(target, label_rows, num, source_rows=source_rows, reference_split=labels_from,
                                    shard=chosen, overwrite=bool(force), on_step=on_step, resolved=options,
                                    extra_metadata={"labels_source": list(labels) or labels_from or None})
    finally:
        bar.close()
    used = summary["options"]
    click.echo(f"d3: wrote {summary['num']} sequences to {summary['path']} in {summary['seconds']:.1f} s "
               f"({summary['per_second']:.1f} seq/s; predictor {used.predictor}, {used.steps} steps, guidance "
               f"{used.guidance:g}, precision {used.precision}, seed {used.seed})")
    if rules is not None:
        click.echo(f"d3: {summary['synthesis'].summary(stop - first)} ({rules.describe()})")
    if chosen is not None:
        click.echo(f"d3: shard {chosen} of the design set; when all {chosen.count} are written, join them with: "
                   f"d3 merge {out.with_name(f'{out.stem}.shard*of{chosen.count}{out.suffix}')} -o {out}")


def _describe(options, shard, first: int, stop: int) -> str:
    """``; analytic, 249 steps, guidance 2, template 12 fixed, shard 1/2 rows 0-99`` for the start line."""
    parts = [options.predictor, f"{options.steps} steps"]
    if options.guidance != 1.0:
        parts.append(f"guidance {options.guidance:g}")
    if options.template is not None:
        parts.append(f"template {options.template.source} ({int(options.template.known.sum(axis=1).max())} fixed "
                     "positions)")
    if options.start is not None:
        parts.append(f"variants of {options.start.source} from t = {options.start_at:g}")
    if not options.denoise:
        parts.append("no final denoising")
    if options.rules is not None:
        parts.append(f"synthesis rules: {options.rules.describe()}")
    if shard is not None:
        parts.append(f"shard {shard} [{shard.source}]: rows {first}..{stop - 1}")
    return "; " + ", ".join(parts)
