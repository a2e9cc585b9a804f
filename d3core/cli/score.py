"""``d3 score``: the likelihood of given sequences under a trained model (the bound on -log p(x | labels))."""
from __future__ import annotations

import time
from pathlib import Path

import click

from d3core.cli.app import hold_output, manager_of
from d3core.cli.options import PathOrPublished, option


@click.command(context_settings={"max_content_width": 110})
@click.argument("sequences", type=click.Path(dir_okay=False, path_type=Path), required=False)
@option("--checkpoint", "-c", type=PathOrPublished(("model",)), required=True,
        help="The trained model (any registered checkpoint format; EMA weights).")
@option("--split", type=click.Choice(["train", "valid", "test"]), default=None,
        help="Score this split of the dataset file (with its measured labels) instead of a SEQUENCES file.")
@option("--limit", type=click.IntRange(min=1), default=None, help="With --split: only the first N rows.")
@option("--data", type=PathOrPublished(("data",), dir_okay=False), default=None,
        help="The dataset file for --split, --labels-from and label names (default: the checkpoint's).")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Output file: .tsv or .csv (a table), .npz (arrays, with every draw). Default: a TSV table on stdout. "
             "With --mutations: the 4 x L table, and a PNG heat map beside it.")
@option("--labels", "labels", multiple=True,
        help="Score under these labels: name=value pairs (dev=2,hk=0), positional values, or a CSV/TSV file of label "
             "rows; one row for all sequences or one per sequence. Default: the labels stored with the sequences "
             "(FASTA headers and .npz/.h5 files written by d3 sample; a split's measurements).")
@option("--labels-from", type=click.Choice(["train", "valid", "test"]), default=None,
        help="Labels of this split: a sample file's recorded reference rows (d3 sample --labels-from), else row i "
             "for sequence i.")
@option("--unconditional", is_flag=True, default=None,
        help="Score -log p(x) under the learned null condition (a model trained with label dropout) instead of "
             "-log p(x | labels).")
@option("--per-position", is_flag=True, default=None,
        help="Also write each position's contribution (nats; columns pos1..posL, they sum to nats).")
@option("--mutations", is_flag=True, default=None,
        help="Scan every single-base substitution of one sequence (the file's only one, or --record): the change "
             "of the bound per base and position (4 x L table, nats; > 0: less likely) and a PNG heat map.")
@option("--record", default=None, help="With --mutations: the sequence to scan (its id, or its number from 1).")
@option("--samples", "-k", type=click.IntRange(min=2), default=None,
        help="Stratified draws of the diffusion time per sequence (default 16). The standard error falls about as "
             "1/K; the cost grows as K (one network call per draw).")
@option("--seed", type=int, default=None,
        help="Random seed (default 0); the same seed gives the same numbers whatever --batch-size or the order of "
             "the sequences.")
@option("--batch-size", type=click.IntRange(min=1), default=None,
        help="(sequence, draw) rows per network call (default 256); bounds memory, does not change the numbers.")
@option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available).")
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
@click.pass_context
def score(ctx: click.Context, sequences: Path | None, checkpoint: Path, split: str | None, limit: int | None,
          data: Path | None, out: Path | None, labels: tuple[str, ...], labels_from: str | None,
          unconditional: bool | None, per_position: bool | None, mutations: bool | None, record: str | None,
          samples: int | None, seed: int | None, batch_size: int | None, device: str | None, force: bool | None,
          no_progress: bool | None) -> None:
    """Likelihood of SEQUENCES (.fasta, .npz, .h5, .csv, .tsv: sample or design files) under the model of CHECKPOINT.

    Per sequence: the bound on -log p(x | labels) in nats and in bits per base, with its Monte Carlo standard
    error (lower = more likely; the uniform model scores 2 bits per base). It is the model's training loss (the
    negative ELBO of the diffusion) for that one sequence, averaged over K draws of the diffusion time. See
    docs/sampling.md, "Scoring sequences".

    \b
    Examples:
      d3 score designed.fasta --checkpoint run/checkpoints/last.ckpt -o scores.tsv
      d3 score --split test --checkpoint run/checkpoints/last.ckpt --limit 500 -o test_scores.npz
      d3 score mine.fasta -c last.ckpt --labels dev=2,hk=0 --samples 64 --per-position -o mine.tsv
      d3 score mine.fasta -c last.ckpt --unconditional -o prior.tsv      (a model trained with label dropout)
      d3 score one.fasta -c last.ckpt --labels dev=2,hk=0 --mutations -o scan.tsv        (+ scan.png)
    """
    from d3core.errors import D3UserError
    from d3core.generation.sampling_model import SamplingModel
    from d3core.generation.memory import check_request
    from d3core.scoring import outputs
    from d3core.scoring.scores import DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES
    from d3core.scoring.inputs import labels_for, read_sequences, read_split

    if (sequences is None) == (split is None):
        raise D3UserError("give a SEQUENCES file or --split train|valid|test (one of them)")
    if limit is not None and split is None:
        raise D3UserError("--limit applies to --split only")
    if record is not None and not mutations:
        raise D3UserError("--record applies to --mutations only")
    if mutations and per_position:
        raise D3UserError("--mutations and --per-position exclude each other; run them separately")
    if mutations and out is None:
        raise D3UserError("--mutations writes a 4 x L table and a heat map: give -o scan.tsv (or .csv, .npz)")
    if out is not None:
        hold_output(outputs.check_output(out, force=bool(force)), force=force)
    samples = DEFAULT_SAMPLES if samples is None else samples
    seed = 0 if seed is None else seed
    sm = SamplingModel.load(checkpoint, device, data=data, manager=manager_of(ctx))
    scored = read_split(sm, split, data=data, limit=limit) if split else read_sequences(sequences, sm.length)
    if mutations:
        if record is not None:
            scored = scored.select(scored.find(record))
        elif len(scored) != 1:
            raise D3UserError(f"--mutations scans one sequence; {scored.source} holds {len(scored)}: pick one with "
                              f"--record (e.g. --record {scored.ids[0]})")
    rows, how = labels_for(sm, scored, labels=labels, labels_from=labels_from, data=data,
                           unconditional=bool(unconditional))
    chunk = min(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, len(scored) * samples)
    check_request(sm, flag=f"--samples {samples} x --batch-size {chunk}", rows=chunk,
                  extra=len(scored) * (samples + (sm.length if per_position else 0)) * 8,
                  extra_detail=f"{samples} draws of {len(scored)} sequences",
                  fix="lower --samples or --batch-size (the numbers do not depend on it)")
    common = dict(unconditional=bool(unconditional), samples=samples, seed=seed, batch_size=batch_size,
                  progress=not no_progress)
    metadata = {**sm.metadata(), "source": scored.source, "labels": how, "samples": samples, "seed": seed,
                "unconditional": bool(unconditional), "device": sm.device}
    work = len(scored) * samples * (3 * sm.length + 1 if mutations else 1)
    click.echo(f"d3: scoring {len(scored)} sequence(s) of {sm.length} bp from {scored.source} with {checkpoint} "
               f"({how}; {samples} draws, {work} network rows) on {sm.device}", err=True)
    started = time.perf_counter()
    if mutations:
        _mutations(sm, scored, rows, out, metadata, common, started)
        return
    from d3core.scoring import score_sequences

    result = score_sequences(sm, scored.tokens, None if rows is None else rows[0] if len(rows) == 1 else rows,
                             per_position=bool(per_position), **common)
    seconds = time.perf_counter() - started
    summary = result.summary()
    names = list(sm.label_names) if rows is not None else []
    if out is None:
        header, table = outputs.score_rows(scored.ids, result, rows, names)
        click.echo(outputs.table_text(header, table), nl=False)
    else:
        outputs.write_scores(out, scored.ids, result, rows, names, {**metadata, "summary": summary})
    where = f"; wrote {out}" if out is not None else ""
    click.echo(f"d3: mean {summary['mean_bits_per_base']:.4f} +- {summary['mean_bits_per_base_stderr']:.4f} bits per "
               f"base ({summary['mean_nats']:.2f} +- {summary['mean_nats_stderr']:.2f} nats per sequence) over "
               f"{len(scored)} sequence(s), bound on -log p(x{'' if rows is None else ' | labels'}); {samples} draws, "
               f"seed {seed}, {seconds:.1f} s{where}", err=out is None)


def _mutations(sm, scored, rows, out: Path, metadata: dict, common: dict, started: float) -> None:
    from d3core.evaluation.plots import mutation_heatmap
    from d3core.scoring import outputs
    from d3core.scoring.mutations import BASES, score_mutations

    scan = score_mutations(sm, scored.tokens[0], None if rows is None else rows[0], **common)
    seconds = time.perf_counter() - started
    outputs.write_mutations(out, scan, {**metadata, "record": scored.ids[0]})
    plot = out.with_suffix(".png")
    ref = scan.reference_scores
    mutation_heatmap(plot, scan.delta, "".join(BASES[int(b)] for b in scan.reference),
                     f"{scored.ids[0]}: change of the bound per substitution (nats; reference "
                     f"{ref.nats[0]:.1f} +- {ref.nats_stderr[0]:.1f})")
    top = ", ".join(f"{pos}{a}>{b} {d:+.2f} +- {se:.2f}" for pos, a, b, d, se in scan.strongest(3))
    click.echo(f"d3: {scored.ids[0]}: bound {ref.nats[0]:.2f} +- {ref.nats_stderr[0]:.2f} nats "
               f"({ref.bits_per_base[0]:.4f} bits per base); largest increases: {top}; {3 * scan.length} "
               f"substitutions in {seconds:.1f} s; wrote {out} and {plot}")
