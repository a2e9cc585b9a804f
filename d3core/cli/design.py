"""``d3 design``: oracle-guided design -- sequences that score high on an objective of an oracle's predictions."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from d3core.cli.app import hold_output, manager_of
from d3core.cli.options import FiniteFloat, PathOrPublished, TimeOrPercent, option, synthesis_options
from d3core.design.methods import METHODS, methods_help
from d3core.predictors import predictor_names
from d3core.progress import progress_bar
from d3core.seqfiles.table import suffix_list


@click.command(context_settings={"max_content_width": 110})
@click.argument("checkpoint", type=PathOrPublished(("model",)))
@option("--oracle", "oracle_specs", required=True, multiple=True,
        help="The oracle that guides: a d3 oracle file (d3 oracle train), an original D3 oracle checkpoint, the "
             "name of a registered oracle (d3 plugins list --kind oracles) or of a published one (d3 models list). "
             "Repeatable: an ensemble guides with the mean of its oracles' predictions.")
@option("--objective", default=None,
        help="What to maximise, over the oracle's label names: 'dev', 'dev - hk' (specific), '-(dev - 4)^2' "
             "(hit 4), 'min(dev, 5) - 0.5*hk'. Numbers, + - * / ^, parentheses, min/max/abs.")
@option("--specific-to", "specific_to", default=None,
        help="Instead of --objective: activity in this cell type (a label of the oracle) minus the largest of the "
             "others (MinGap), e.g. --specific-to HepG2 = 'HepG2 - max(K562, WTC11)'.")
@option("--strands", type=click.Choice(["forward", "both"], case_sensitive=False), default=None,
        help="forward (default): the oracles score the sequence as written; both: the mean over the sequence and its "
             "reverse complement (orientation unknown in the final construct).")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
        help=f"Design file: {suffix_list()} (labels, objective, oracle predictions and metadata in every format).")
@option("--num", "-n", type=click.IntRange(min=1), default=None, help="Designs per label row (default 10).")
@option("--method", type=click.Choice(list(METHODS), case_sensitive=False), default=None, help=methods_help())
@option("--population", type=click.IntRange(min=2), default=None,
        help="evolve: members P per request (default 32); each round costs P oracle calls.")
@option("--rounds", type=click.IntRange(min=0), default=None, help="evolve: rounds R (default 8).")
@option("--renoise", type=TimeOrPercent(), default=None,
        help="evolve: the diffusion time in (0, 1] each member is re-noised to before the model denoises it "
             "(default 0.5: about half of the positions redrawn), or a fraction of positions as a percentage (20%: "
             "exactly a fifth of each member's positions, chosen at random, in-filled by the model).")
@option("--child-steps", type=click.IntRange(min=1), default=None,
        help="evolve: predictor steps that make a child from its re-noised parent (default 1 for a time: many cheap "
             "children beat fewer careful ones at equal compute; ceil(renoise x steps) for a percentage or "
             "--max-edits, which in-fill from noise). Each round costs P x this many network calls.")
@option("--budget", type=click.IntRange(min=1), default=None,
        help="evolve: oracle calls per request at most (default: P + R x P); rounds stop before exceeding it.")
@option("--ess", type=FiniteFloat(min=0), default=None,
        help="evolve: target effective sample size of the resampling, as a fraction of P (default 0.5); the "
             "selection strength beta follows it.")
@option("--archive-distance", type=click.IntRange(min=0), default=None,
        help="evolve: designs kept in the archive differ pairwise in more than this many positions (default 1).")
@option("--start-from", "start_from", default=None,
        help="evolve: a FASTA of start sequences to improve; each is its own request and gets --num designs, in file "
             "order.")
@option("--max-edits", type=click.IntRange(min=1), default=None,
        help="evolve with --start-from: no design differs from its start in more than K positions; the output lists "
             "each design's edits (12:A>G;40:C>T, positions from 1).")
@option("--pareto", is_flag=True, default=None,
        help="evolve: write the archive's front of objective against bits per base (and against the judge's "
             "objective with --judge): every design no other beats on all of them, instead of the best --num.")
@option("--candidates", "-m", type=click.IntRange(min=1), default=None,
        help="M candidates per step (svdd) or K particles (smc); default 8. Cost ~ M + 1 network calls per step.")
@option("--temperature", type=FiniteFloat(min=0), default=None,
        help="alpha: svdd keeps candidate m with probability softmax(v / alpha), default 0 = the best; smc weights "
             "particles by exp(dv / alpha), default 0.1. In the objective's units.")
@option("--value-estimate", type=click.Choice(["mean", "mode"], case_sensitive=False), default=None,
        help="What the oracle values at each step: the posterior mean one-hot of the denoised estimate (default) or "
             "its most likely letters.")
@option("--labels", "labels", multiple=True,
        help="Conditioning of the model, as in d3 sample (dev=2,hk=0; repeatable; each row gets --num designs).")
@option("--guidance", type=FiniteFloat(min=0), default=None,
        help="Classifier-free guidance strength (default 1; 0 = unconditional model, no --labels needed).")
@option("--template", default=None, help="Fixed positions: ACGTN... (N = free) or a FASTA of templates.")
@option("--fix", "fixes", multiple=True, help="Fix a segment: START:SEQUENCE (START from 1); repeatable.")
@option("--judge", "judge_spec", default=None,
        help="A second oracle that did not guide (another seed or data): its predictions go into the output and "
             "the report, the honest measure of the designs.")
@option("--min-likelihood", "min_likelihood", default=None,
        help="Naturalness leash: redraw (up to 4 times) every design whose likelihood bound is above B bits per "
             "base; 'pN' takes B from the dataset's validation sequences: as unlikely as their least likely N %% "
             "(p5 is a good start). Off by default.")
@option("--likelihood-samples", type=click.IntRange(min=0), default=None,
        help="Draws of t for each design's likelihood bound (bits per base, in the output and the report); "
             "default 16, 0 = do not score (then no leash and no likelihood plot).")
@option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Write a report into this folder: report.md + plots (objective against likelihood for the designs "
             "and real sequences, activity distributions), beside the same request sampled without guidance.")
@option("--data", type=PathOrPublished(("data",), dir_okay=False), default=None,
        help="The dataset file for --min-likelihood pN and the report (default: the one recorded in the checkpoint).")
@option("--steps", type=click.IntRange(min=1), default=None, help="Predictor steps (default as d3 sample: L).")
@option("--predictor", type=click.Choice(predictor_names(calls_model=True), case_sensitive=False),
        default=None,
        help="Reverse-diffusion predictor (default analytic).")
@option("--batch-size", type=click.IntRange(min=1), default=None,
        help="Designs per chunk (default 32); the network sees candidates x this many rows. Does not change the "
             "designs.")
@option("--seed", type=int, default=None, help="Random seed (default 0): same seed, same designs.")
@option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available).")
@option("--precision", default=None, help="As d3 sample (default 32-true on CPU).")
@option("--shard", default=None,
        help="K/N: design only shard K of N of the designs (N processes or GPUs make one design run; -o must be "
             ".npz; join the shards with d3 merge, which gives exactly the single-process designs). Under torchrun "
             "or srun the rank variables set it; --shard 1/1 turns that off.")
@option("--constructs", is_flag=True, default=None,
        help="Write each design inside the adapters its dataset declares (lentiMPRA: 15 bp each side), as a vendor "
             "synthesises it; the synthesis rules then hold on the whole construct, junctions included.")
@synthesis_options
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
@click.pass_context
def design(ctx: click.Context, checkpoint: Path, oracle_specs: tuple[str, ...], objective: str | None,
           specific_to: str | None, strands: str | None, out: Path, num: int | None,
           method: str | None, population: int | None, rounds: int | None, renoise: tuple[float, bool] | None,
           child_steps: int | None, budget: int | None, ess: float | None, archive_distance: int | None,
           start_from: str | None, max_edits: int | None, pareto: bool | None, candidates: int | None,
           temperature: float | None, value_estimate: str | None,
           labels: tuple[str, ...], guidance: float | None, template: str | None, fixes: tuple[str, ...],
           judge_spec: str | None, min_likelihood: str | None, likelihood_samples: int | None,
           report_dir: Path | None, data: Path | None, steps: int | None, predictor: str | None,
           batch_size: int | None,
           seed: int | None, device: str | None, precision: str | None, gc: str | None,
           max_homopolymer: int | None, avoid: tuple[str, ...], synthesis_attempts: int | None,
           shard: str | None, constructs: bool | None, force: bool | None,
           no_progress: bool | None) -> None:
    """Design sequences from CHECKPOINT that score high on --objective under --oracle, staying likely under the
    model.

    The reference method is soft value-based decoding (SVDD, posterior mean): at every step M candidate next states
    are drawn, the oracle values each one's denoised estimate, and the best (or a softmax draw) is kept. With
    --candidates 1 or --method none it is exactly d3 sample with the same seed. Judge the designs with an oracle that
    did not guide them (--judge), and look at naturalness beside activity (docs/designing-sequences.md).

    \b
    Examples:
      d3 design run/checkpoints/last.ckpt --oracle ds.oracle.ckpt --objective dev --labels dev=2,hk=0 -o d.fasta
      d3 design CKPT --oracle ds.oracle.ckpt --objective 'dev - hk' --labels dev=2,hk=0 --num 100 \\
          --candidates 16 --judge judge.oracle.ckpt -o specific.npz
      d3 design CKPT --oracle ds.oracle.ckpt --objective '-(dev - 4)^2' --method smc --labels 4,0 -o hit4.tsv
      d3 design CKPT --oracle ds.oracle.ckpt --objective dev --labels 2,0 --fix 1:GTCCAA -o flanked.fasta
      d3 design CKPT --oracle a.oracle.ckpt --oracle b.oracle.ckpt --judge c.oracle.ckpt --specific-to HepG2 \
          --gc 0.40:0.60 --max-homopolymer 5 --avoid BsaI --avoid BsmBI --num 500 --report r/ -o pool.fasta
      d3 design CKPT --oracle ds.oracle.ckpt --objective dev --labels 2,0 --method evolve --population 32 \\
          --rounds 10 --budget 400 -o evolved.fasta
      d3 design CKPT --oracle ds.oracle.ckpt --objective dev --labels 2,0 --method evolve --start-from mine.fasta \\
          --max-edits 5 --num 4 -o better.tsv
    """
    import numpy as np

    from d3core.design import DesignSettings, parse_objective, write_designs
    from d3core.design.driver import check_oracle, design as run_design, design_count
    from d3core.design.measure import add_judge
    from d3core.design.constructs import construct_flanks
    from d3core.design.guides import make_guide
    from d3core.design.objective import specificity_objective
    from d3core.design.output import design_format
    from d3core.design.session import (DEFAULT_LIKELIHOOD_SAMPLES, DEFAULT_NUM, DEFAULT_STRANDS, check_dataset,
                                       design_report, resolve_design_options)
    from d3core.errors import D3UserError
    from d3core.evaluation.oracle import resolve_oracle
    from d3core.generation.sampling_model import SamplingModel
    from d3core.generation.constraints import rules_from_flags
    from d3core.generation.memory import FLOAT_BYTES, check_request
    from d3core.generation.shards import local_device, parse_shard, shard_from_environment

    design_format(out)
    if (objective is None) == (specific_to is None):
        raise D3UserError("give what to design for: --objective EXPRESSION or --specific-to CELL (one of them)")
    rules = rules_from_flags(gc, max_homopolymer, avoid, attempts=synthesis_attempts)  # bad values fail early
    chosen = parse_shard(shard) if shard is not None else shard_from_environment()
    chosen = chosen if chosen is not None and chosen.count > 1 else None
    if chosen is not None:
        if design_format(out) != "npz":
            raise D3UserError(f"--shard {chosen}: design shards are written as .npz (-o {out.with_suffix('.npz')}); "
                              "d3 merge then writes the joined designs in any format")
        if report_dir is not None:
            raise D3UserError(f"--shard {chosen}: --report needs the whole design set; write it from one process "
                              "(without --shard)")
        out = chosen.path(out)
        if device is None and chosen.source != "--shard":
            device = local_device()
    hold_output(out, force=force)
    if report_dir is not None:
        hold_output(report_dir, force=True, flag="--report", folder=True)
    if min_likelihood is not None:
        from d3core.design.leash import parse_threshold

        parse_threshold(min_likelihood)  # a bad value fails before the model loads
    manager = manager_of(ctx)
    settings = DesignSettings(**_given(method=method, candidates=candidates, temperature=temperature,
                                       estimate=value_estimate)).checked()
    evolve = _evolve_settings(settings.method, population=population, rounds=rounds, renoise=renoise,
                              child_steps=child_steps, budget=budget, ess=ess, distance=archive_distance,
                              max_edits=max_edits, pareto=pareto, start_from=start_from)
    sm = SamplingModel.load(checkpoint, device, data=data, manager=manager)
    flanks = construct_flanks(sm) if constructs else ("", "")
    if rules is not None and constructs:
        rules = replace(rules, flanks=flanks)
    strands = (strands or DEFAULT_STRANDS).lower()
    guide = make_guide([resolve_oracle(spec, sm.device, manager=manager, dataset=sm.dataset_name)
                        for spec in oracle_specs], strands)
    if specific_to is not None:
        objective = specificity_objective(specific_to, guide.label_names)
    parsed = parse_objective(objective, guide.label_names)
    judge = None
    if judge_spec:
        judge = make_guide([resolve_oracle(judge_spec, sm.device, manager=manager, what="--judge",
                                          dataset=sm.dataset_name)], strands)
    check_oracle(sm, guide)
    if judge is not None:
        check_oracle(sm, judge)
    check_dataset(sm, data, report=report_dir is not None, min_likelihood=min_likelihood)
    rows = sm.parse_labels(list(labels))
    label_rows = rows if sm.num_labels else None
    options = resolve_design_options(sm, steps=steps, predictor=predictor, guidance=guidance, precision=precision,
                                     batch_size=batch_size, seed=seed, template=sm.template(template, fixes),
                                     rules=rules)
    num = DEFAULT_NUM if num is None else num
    chunk = min(options.batch_size, num * max(len(rows), 1))
    check_request(sm, flag=f"--candidates {settings.candidates} x --batch-size {chunk}",
                  rows=settings.candidates * chunk * (1 if options.guidance == 1.0 else 2),
                  extra=len(rows) * num * sm.num_labels * FLOAT_BYTES, extra_detail=f"labels of --num {num} designs",
                  fix="lower --candidates, --batch-size (the designs do not depend on it) or --num")
    starts = None if start_from is None else sm.start_sequences(start_from)
    total = design_count(sm, label_rows, num, options, starts=starts)
    if chosen is not None:  # evolve shares out whole requests (one population each), the others designs
        first, stop = chosen.rows(total // num) if evolve is not None else chosen.rows(total)
        total = (stop - first) * (num if evolve is not None else 1)
    samples = DEFAULT_LIKELIHOOD_SAMPLES if likelihood_samples is None else likelihood_samples
    leash = None
    if min_likelihood is not None:
        from d3core.design.leash import make_leash

        if samples < 2:
            raise D3UserError("--min-likelihood needs the likelihood: give --likelihood-samples 2 or more")
        leash = make_leash(sm, min_likelihood, samples=samples, seed=options.seed, data=data)
        click.echo(f"d3: leash: every design's bound at most {leash.threshold:.4f} bits per base ({leash.source})",
                   err=True)
    click.echo(f"d3: designing {total} sequence(s) of {sm.length} bp from {checkpoint} for objective "
               f"{parsed.text!r} under {guide.describe() if hasattr(guide, 'describe') else oracle_specs[0]} "
               f"({_describe(settings)}; {options.steps} steps, seed {options.seed}) on {sm.device}", err=True)
    bar = progress_bar(total, "d3 design", "design", enabled=not no_progress)
    done, finished = [0.0], []

    def show(value: float | None) -> None:
        parts = []
        if finished:
            parts.append(f"objective {np.mean(np.concatenate(finished)):.3g} (mean of "
                         f"{sum(len(f) for f in finished)})")
        if value is not None:
            parts.append(f"current value {value:.3g}")
        bar.set_postfix_str(", ".join(parts), refresh=False)

    def on_step(work: int, total_work: int, value: float | None) -> None:
        position = work * total / max(total_work, 1)
        bar.update(position - done[0])
        done[0] = position
        show(value)

    def on_chunk(chunk) -> None:
        finished.append(chunk.objective)
        show(None)

    try:
        designs = run_design(sm, guide, parsed, label_rows, num, settings=settings, on_step=on_step,
                             on_chunk=on_chunk, resolved=options, likelihood_samples=samples, leash=leash,
                             shard=chosen, evolve=evolve, starts=starts, judge=judge)
    finally:
        bar.close()
    designs.metadata["specific_to"] = specific_to
    if judge is not None:
        add_judge(designs, judge)
    designs.metadata["construct_flanks"] = list(flanks) if constructs else None
    write_designs(out, designs, overwrite=bool(force))
    if rules is not None:
        failed = designs.metadata["synthesis"]["failed"]
        rules_line = ", ".join(f"{k} {v}" for k, v in designs.metadata["synthesis"]["failed_by_rule"].items())
        click.echo(f"d3: synthesis rules ({rules.describe()}): {len(designs)} design(s) meet them"
                   + (f"; {failed} still broke a rule after {rules.attempts} in-fill redraws ({rules_line}) and were "
                      "not written" if failed else ""), err=True)
    if report_dir is not None:
        click.echo("d3: report: the same request without guidance, and the validation sequences", err=True)
        report = design_report(report_dir, designs, judge=judge, data=data)
        for line in report.render().splitlines():
            click.echo(f"d3: {line}")
    seconds = designs.metadata["seconds"]
    summary = (f"; objective {parsed.text}: mean {designs.objective.mean():.3f}, median "
               f"{float(np.median(designs.objective)):.3f}") if len(designs) else ""
    click.echo(f"d3: wrote {len(designs)} designs to {out} in {seconds:.1f} s ({seconds / max(len(designs), 1):.2f} "
               f"s per design){summary}")
    if chosen is not None:
        stem = out.name.replace(f".shard{chosen.index}of{chosen.count}", f".shard*of{chosen.count}")
        click.echo(f"d3: shard {chosen} of the design run; when all {chosen.count} are written, join them with: "
                   f"d3 merge {out.with_name(stem)} -o {out.with_name(stem.replace(f'.shard*of{chosen.count}', ''))}")
    if evolve is not None:
        spent = designs.metadata["evolve"]["requests"]
        click.echo(f"d3: evolve: {designs.metadata['oracle_calls']} oracle calls and "
                   f"{designs.metadata['network_rows']} sequence-steps of the model spent on {len(spent)} request(s) "
                   f"({', '.join(str(r['rounds']) for r in spent)} round(s))"
                   + (f"; edits per design: at most {int(designs.columns['edit_count'].max())}"
                      if "edit_count" in designs.columns and len(designs) else ""))
    if not len(designs):
        return
    if "bits_per_base" in designs.columns:
        bpb = designs.columns["bits_per_base"]
        failed = int((designs.columns["leash"] == 0).sum()) if "leash" in designs.columns else 0
        click.echo(f"d3: likelihood bound: mean {bpb.mean():.4f} bits per base ({samples} draws of t per design)"
                   + (f"; {failed} design(s) failed the leash after {leash.attempts} redraws (column leash = 0)"
                      if failed else ""))
    if judge is not None:
        click.echo(f"d3: judge {judge_spec}: " + ", ".join(
            f"{name} mean {designs.columns[f'judge:{name}'].mean():.3f}" for name in judge.label_names))


def _evolve_settings(method: str, *, start_from: str | None, **given):
    """The :class:`~d3core.design.evolve.EvolveSettings` of the evolve flags (None for the other methods, which
    take none of them)."""
    from d3core.design.evolve import EvolveSettings
    from d3core.errors import D3UserError

    flags = {"population": "--population", "rounds": "--rounds", "renoise": "--renoise", "child_steps": "--child-steps",
             "budget": "--budget", "ess": "--ess", "distance": "--archive-distance", "max_edits": "--max-edits",
             "pareto": "--pareto"}
    if method != "evolve":
        used = [flags[k] for k in _given(**given)] + (["--start-from"] if start_from else [])
        if used:
            raise D3UserError(f"{', '.join(used)}: only --method evolve takes {'these' if len(used) > 1 else 'this'}")
        return None
    chosen = _given(**given)
    if "renoise" in chosen:
        chosen["renoise"], chosen["renoise_positions"] = chosen["renoise"]
    return EvolveSettings(**chosen).checked_for(start_from is not None)


def _given(**values):
    """The options the user gave (not None): the library's defaults fill the rest."""
    return {name: value for name, value in values.items() if value is not None}


def _describe(settings) -> str:
    if settings.method == "evolve":
        return "evolve: population search"
    if settings.method == "none" or settings.candidates == 1:
        return "plain sampling"
    return f"{settings.method}, {settings.candidates} {METHODS[settings.method].draws}, temperature " \
           f"{settings.temperature:g}"
