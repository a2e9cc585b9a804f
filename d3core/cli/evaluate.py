"""``d3 evaluate``: score generated sequences against a dataset split with every metric of the D3 paper (oracle
fidelity, Fréchet distance, k-mer spectra, discriminability, identity and diversity, motifs, attributions) and the
peers' checks, writing ``metrics.json``, ``report.md``, ``motif_hits.tsv`` and PNG plots."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import hold_output, manager_of
from d3core.cli.options import PathOrPublished, option


def _ks(text: str | None) -> tuple[int, ...]:
    if text is None:
        return (3, 4, 5, 6)
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                out += list(range(lo, hi + 1))
            elif part.strip():
                out.append(int(part))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give k values such as 3-6 or 3,4,6") from None
    if not out or min(out) < 1 or max(out) > 10:
        raise click.BadParameter(f"{text!r}: k must be between 1 and 10")
    return tuple(sorted(set(out)))


@click.command(context_settings={"max_content_width": 110})
@click.argument("samples", type=click.Path(dir_okay=False, path_type=Path))
@option("--dataset", default=None, help="Dataset name (default: the one recorded in an .npz/.h5 sample file).")
@option("--data", type=PathOrPublished(("data",), dir_okay=False), default=None,
        help="The dataset file (default: recorded with the checkpoint's config, else the dataset's cache).")
@option("--oracle", default=None,
        help="Oracle: a file (d3 oracle train, an original D3 oracle checkpoint such as "
             "oracle_DeepSTARR_DeepSTARR_data.ckpt), a registered oracle name (deepstarr) or a published one "
             "(d3 models list) (default: <data dir>/<data stem>.oracle.ckpt if it exists).")
@option("--protocol", type=click.Choice(["quick", "paper"]), default=None,
        help="Settings of the metrics: quick (default; minutes on a CPU) or paper (the D3 paper's settings, with its "
             "published figures beside yours; needs the motifs extra).")
@option("--arch", default=None, help="Architecture the samples came from, for the published figures (default: the "
        "sample file's).")
@option("--reference", type=click.Choice(["test", "valid", "train"]), default=None,
        help="Split the samples are compared with (default test).")
@option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Output folder (default: <samples stem>_eval beside the samples).")
@option("--kmer-ks", default=None, help="k-mer sizes for the KL and JS distance (default 3-6).")
@option("--activity-threshold", multiple=True, default=None,
        help="LABEL=VALUE: count designs predicted at or above it (fraction_above_<label>; default: the activity "
             "of the top 0.1 % of real training sequences). Repeatable.")
@option("--attribution-label", default=None,
        help="Oracle output whose attribution maps are analysed (default: the first; paper protocol on deepstarr: hk).")
@option("--attribution-sequences", type=click.IntRange(min=2), default=None,
        help="Attribution maps for at most N sequences per set (quick 200, paper 1000).")
@option("--jaspar-release", default=None, help="JASPAR release scanned with FIMO (default JASPAR2022; pyjaspar ships "
        "JASPAR2014 to JASPAR2026).")
@option("--no-motifs", is_flag=True, default=None, help="Skip the motif scans (FIMO).")
@option("--no-attributions", is_flag=True, default=None, help="Skip the attribution maps (GradientShap).")
@option("--no-discriminator", is_flag=True, default=None, help="Skip the discriminability classifier (AUROC).")
@option("--reference-rows", type=click.IntRange(min=2), default=None,
        help="Compare distributions (k-mer spectra, KS, Fréchet distance, motifs, identity) with N reference rows "
             "drawn with --seed, stratified by activity, each figure with the standard error that adds "
             "(<metric>_subsample_se) (default: every row; SP-MSE and attributions always use every row).")
@option("--identity-rows", type=click.IntRange(min=1), default=None,
        help="Compare with at most N random training rows for the nearest-sequence identity (default 20000).")
@option("--checkpoint", "-c", type=PathOrPublished(("model",)), default=None,
        help="Also score both sets under this model (d3 score): the mean bits per base of the generated and of the "
             "reference sequences side by side (at most 1000 random sequences of each).")
@option("--score-samples", type=click.IntRange(min=2), default=None,
        help="With --checkpoint: draws of the diffusion time per sequence (default 16).")
@option("--seed", type=int, default=None, help="Seed of subsampling, classifiers and attributions (default 0).")
@option("--device", default=None, help="cpu or cuda (default: cuda if available).")
@option("--no-progress", is_flag=True, default=None, help="No progress bar.")
@option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Where what the reference alone determines (oracle predictions and embeddings, k-mer spectra, motif "
             "counts, attribution maps of real sequences) is kept for the next evaluation against the same data, "
             "split and oracle (default: $D3_EVAL_CACHE, else <data dir>/eval-cache).")
@option("--no-cache", is_flag=True, default=None, help="Compute the reference side afresh; read and write no cache.")
@click.pass_context
def evaluate(ctx: click.Context, samples: Path, dataset: str | None, data: Path | None, oracle: str | None,
             protocol: str | None, arch: str | None, reference: str | None, out: Path | None, kmer_ks: str | None,
             activity_threshold: tuple[str, ...] | None, attribution_label: str | None,
             attribution_sequences: int | None, jaspar_release: str | None, no_motifs: bool | None,
             no_attributions: bool | None, no_discriminator: bool | None, reference_rows: int | None,
             identity_rows: int | None,
             checkpoint: Path | None, score_samples: int | None, seed: int | None, device: str | None,
             no_progress: bool | None, cache_dir: Path | None, no_cache: bool | None) -> None:
    """Evaluate generated SAMPLES (.fasta, .npz, .h5, .csv, .tsv: sample or design files) against real sequences of a dataset.

    \b
    Metrics (definitions, units, better direction, the paper's values: docs/evaluation.md):
      sp_mse, requested_mse, requested_pearson_<label>   oracle fidelity (paired / to the requested activity)
      frechet_distance, ks_<label>                      oracle-embedding and predicted-activity shift
      kmer_kl_k3..k6, kmer_js_k3..k6                    k-mer spectrum KL and Jensen-Shannon distance
      auroc                                             real-vs-generated classifier (0.5 is best)
      percent_identity_*, sequence_diversity_mean       identity to real sequences, to each other
      motif_enrichment_pearson, motif_cooccurrence_*    FIMO scans against JASPAR
      attribution_consistency, mechanistic_diversity_*  GradientShap maps of the oracle
      kmer3_pearson_top_*, motif_pearson_top_*, fraction_above_*   peers' checks vs the top real sequences
      nn_identity_mean/max, gc_*                        memorisation, GC content
      likelihood_bpb_generated/_reference               mean bits per base under --checkpoint (d3 score)
    \b
    Example:
      d3 sample run/last.ckpt --labels-from test -o paired.npz
      d3 evaluate paired.npz --oracle oracle_DeepSTARR_DeepSTARR_data.ckpt --protocol paper
    """
    from d3core.errors import D3UserError
    from d3core.evaluation.oracle import find_oracle
    from d3core.evaluation.protocols import protocol as get_protocol
    from d3core.evaluation.activity_thresholds import parse_thresholds
    from d3core.evaluation.report import evaluate_samples
    from d3core.seqfiles import read_sequence_file
    from d3core.generation.sampler import default_device

    from d3core.evaluation.reference_cache import default_cache_dir

    if score_samples is not None and checkpoint is None:
        raise D3UserError("--score-samples applies to --checkpoint only")
    if no_cache and cache_dir is not None:
        raise D3UserError("--cache-dir and --no-cache: give one")
    out = hold_output(out or samples.with_name(f"{samples.stem}_eval"), force=True, flag="--out", folder=True)
    sample_set = read_sequence_file(samples)
    meta = sample_set.metadata
    dataset = dataset or meta.get("dataset")
    if not dataset:
        raise D3UserError(f"{samples}: does not record its dataset; pass --dataset NAME")
    ds = manager_of(ctx).dataset(dataset)
    if data is None and meta.get("data") and Path(meta["data"]).is_file():
        data = Path(meta["data"])
    data_path = ds.require(data)
    device = device or default_device()
    settings = get_protocol(protocol or "quick", kmer_ks=_ks(kmer_ks) if kmer_ks else None,
                            attribution_sequences=attribution_sequences, jaspar_release=jaspar_release,
                            motifs=False if no_motifs else None, attributions=False if no_attributions else None)
    thresholds = parse_thresholds(activity_threshold)
    loaded = find_oracle(ds, data_path, oracle, device=device, manager=manager_of(ctx))
    scorer = None
    if checkpoint is not None:
        from d3core.generation.sampling_model import SamplingModel

        scorer = SamplingModel.load(checkpoint, device, data=data_path, manager=manager_of(ctx))
        if scorer.length != sample_set.length:
            raise D3UserError(f"--checkpoint {checkpoint}: the model scores {scorer.length} bp sequences; the samples "
                              f"are {sample_set.length} bp")
    click.echo(f"d3: evaluating {len(sample_set)} sequences from {samples} against {ds.name} "
               f"{reference or 'test'} ({data_path}), protocol {settings.name}; oracle: "
               f"{loaded.path if loaded else 'none'}", err=True)
    result = evaluate_samples(sample_set, ds, data_path, out, reference=reference or "test", oracle=loaded,
                              protocol=settings, discriminator=not no_discriminator, identity_rows=identity_rows,
                              seed=0 if seed is None else seed, device=device, samples_path=str(samples), arch=arch,
                              activity_thresholds=thresholds, attribution_label=attribution_label,
                              likelihood_model=scorer, likelihood_samples=score_samples, progress=not no_progress,
                              cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
                              reference_rows=reference_rows,
                              echo=lambda line: click.echo(f"d3: {line}", err=True))
    for note in result["notes"]:
        click.echo(f"d3: note: {note}", err=True)
    for group in result["groups"]:
        requested = ", ".join(f"{k}={v:g}" for k, v in group["requested"].items())
        predicted = ", ".join(f"{k} {v:.3f}" for k, v in group["predicted_mean"].items())
        click.echo(f"d3: conditioning: requested {requested} -> mean oracle-predicted {predicted} (n={group['n']})")
    if len(result["groups"]) == 2:
        click.echo(f"d3: {_effect(result['groups'])}")
    metrics = result["metrics"]
    if "likelihood_bpb_generated" in metrics:
        click.echo(f"d3: likelihood under {checkpoint} ({metrics['likelihood_condition']}): generated "
                   f"{metrics['likelihood_bpb_generated']:.4f} +- {metrics['likelihood_bpb_generated_stderr']:.4f} "
                   f"bits per base, {reference or 'test'} {metrics['likelihood_bpb_reference']:.4f} +- "
                   f"{metrics['likelihood_bpb_reference_stderr']:.4f} (lower = more likely)")
    for name, row in result.get("published", {}).items():
        value = row["this_run"]
        click.echo(f"d3: {name}: {'n/a' if value is None else f'{value:.4g}'} (published: {row['published']:g}, "
                   f"{row['source']}; {row['oracle']})")
    click.echo(f"d3: report: {out / 'report.md'} (metrics.json, {len(result['plots'])} plots)")


def _effect(groups: list[dict]) -> str:
    """One line: the difference of mean predicted activity between two groups, for each label they differ in."""
    a, b = groups
    parts = []
    for name in a["requested"]:
        if a["requested"][name] != b["requested"][name]:
            high, low = (a, b) if a["requested"][name] > b["requested"][name] else (b, a)
            parts.append(f"{name} {high['predicted_mean'][name]:.3f} at requested {high['requested'][name]:g} vs "
                         f"{low['predicted_mean'][name]:.3f} at {low['requested'][name]:g} "
                         f"(difference {high['predicted_mean'][name] - low['predicted_mean'][name]:+.3f})")
    return "measured effect of conditioning (mean oracle-predicted activity): " + ("; ".join(parts) or
                                                                                 "the groups request the same values")
