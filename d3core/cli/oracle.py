"""``d3 oracle``: train a dataset's oracle (the activity predictor that scores generated sequences), or inspect one."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import D3Group, hold_output, manager_of
from d3core.cli.options import FiniteFloat, PathOrPublished, option


@click.group(cls=D3Group)
def oracle() -> None:
    """Oracles: CNNs that predict a dataset's activities from sequence (DeepSTARR CNN, MPRA CNN).

    Every command takes what --oracle takes elsewhere: d3 oracle files (d3 oracle train), the original D3 code's
    oracle checkpoints (oracle_DeepSTARR_DeepSTARR_data.ckpt, oracle_mpra_mpra_data.ckpt), a dataset's name for the
    oracle d3 oracle train left beside its data (deepstarr), or a published oracle (d3 models list).

    \b
      d3 oracle train --dataset deepstarr --data ds.h5     writes ds.oracle.ckpt beside the data
      d3 oracle info ds.oracle.ckpt                        dataset, labels, test Pearson/Spearman
      d3 oracle info deepstarr                             the same for deepstarr's trained oracle
      d3 oracle predict ds.oracle.ckpt designs.fasta -o predictions.tsv [--embedding]
    """


def _metrics_table(metrics: dict) -> str:
    """Per label: test Pearson and Spearman; with missing labels also the measured test rows they are over."""
    pearson, spearman = metrics.get("test_pearson", {}), metrics.get("test_spearman", {})
    measured = metrics.get("test_measured")
    lines = [f"{'label':<12} {'test Pearson':>12} {'test Spearman':>13}" + (f" {'measured rows':>13}" if measured
                                                                              else "")]
    for name in pearson:
        lines.append(f"{name:<12} {pearson[name]:>12.4f} {spearman.get(name, float('nan')):>13.4f}"
                     + (f" {measured.get(name, 0):>13}" if measured else ""))
    return "\n".join(lines)


@oracle.command("train")
@option("--dataset", required=True, help="Dataset name (d3 plugins list --kind datasets).")
@option("--data", type=PathOrPublished(("data",), dir_okay=False), default=None,
        help="The dataset file (default: the dataset's cache, $D3_DATA_DIR or the user cache, ~/.cache/d3 on Linux).")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Oracle file to write (default: <data dir>/<data stem>.oracle.ckpt, where d3 evaluate looks).")
@option("--max-epochs", type=click.IntRange(min=1), default=None, help="At most this many epochs (default 100).")
@option("--patience", type=click.IntRange(min=1), default=None,
        help="Early stopping: epochs without val_loss improvement (default 10).")
@option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size (default 128).")
@option("--lr", type=FiniteFloat(min=0, min_open=True), default=None, help="Adam learning rate (default 2e-3).")
@option("--seed", type=int, default=None, help="Random seed (default 41).")
@option("--accelerator", default=None, help="cpu, gpu or auto (default auto).")
@option("--limit-train", type=click.IntRange(min=1), default=None, help="Use only the first N training rows.")
@option("--train-fraction", type=FiniteFloat(min=0, max=1, min_open=True), default=None,
        help="Train on a random fraction F of the training rows, drawn with --seed (default 1 = all). Two oracles "
             "with different seeds and F = 0.5 see different data: one can guide d3 design, the other judge it.")
@option("--test-rows", type=click.IntRange(min=2), default=None,
        help="Score the finished oracle on at most N random test rows (and N valid rows) (default 10000).")
@option("--no-progress", is_flag=True, default=None, help="No progress bar (the one line per epoch stays).")
@option("--force", is_flag=True, default=None, help="Replace an existing oracle file.")
@click.pass_context
def train_cmd(ctx: click.Context, dataset: str, data: Path | None, out: Path | None, max_epochs: int | None,
              patience: int | None, batch_size: int | None, lr: float | None, seed: int | None,
              accelerator: str | None, limit_train: int | None, train_fraction: float | None,
              test_rows: int | None, no_progress: bool | None, force: bool | None) -> None:
    """Train DATASET's oracle with Lightning and report test Pearson/Spearman per label.

    \b
    Defaults fit a CPU: early stopping is on (val_loss, patience 10), so a run usually ends well before
    --max-epochs; the final scores read at most 10000 test rows (--test-rows). A progress bar shows the epoch,
    the step and the time left in the epoch; each epoch prints its losses, seconds per epoch and the most time left.
    The best epoch so far is written to the oracle file (atomically) as soon as it is seen: stopped with SIGTERM or
    Ctrl-C, a run leaves that file (marked partial, no test metrics) and exits 143 or 130.
    """
    from d3core.evaluation.oracle import default_oracle_path
    from d3core.evaluation.oracle_training import TrainingStopped, train_oracle

    ds = manager_of(ctx).dataset(dataset)
    path = ds.require(data)
    ds.validate(path)  # another dataset's file or a corrupt one fails before anything is announced
    target = hold_output(out or default_oracle_path(path), force=force)
    click.echo(f"d3: training the {ds.name} oracle on {path} -> {target}", err=True)
    try:
        written, metrics = train_oracle(ds, path, target, max_epochs=max_epochs, patience=patience,
                                        batch_size=batch_size, lr=lr, seed=seed, accelerator=accelerator or "auto",
                                        limit_train=limit_train, train_fraction=train_fraction or 1.0,
                                        test_rows=test_rows, progress=not no_progress,
                                        echo=lambda line: click.echo(f"d3: {line}", err=True))
    except TrainingStopped as stopped:
        click.echo(f"d3: {stopped}", err=True)
        ctx.exit(stopped.status)
    click.echo(_metrics_table(metrics))
    click.echo(f"d3: {metrics['epochs']} epoch(s), best epoch {metrics['best_epoch']}; test MSE "
               f"{metrics['test_mse']:.4f} on {metrics['test_rows']} of {metrics['test_rows_total']} test rows")
    click.echo(f"d3: oracle: {written}")


@oracle.command("info")
@click.argument("oracle_spec", metavar="ORACLE")
@click.pass_context
def info_cmd(ctx: click.Context, oracle_spec: str) -> None:
    """Show what ORACLE (a file, a registered or a published oracle name) holds: kind, dataset, labels, network, and
    its test metrics or training state."""
    from d3core.evaluation.oracle import resolve_oracle

    loaded = resolve_oracle(oracle_spec, manager=manager_of(ctx), what="ORACLE", need_file=True)
    info = loaded.info
    click.echo(loaded.describe())
    if info.get("data"):
        click.echo(f"trained on {info['data']}")
    if info.get("label_columns") is not None:
        click.echo(f"original checkpoint: epoch {info.get('epoch')}, global step {info.get('global_step')}, "
                   f"pytorch-lightning {info.get('pytorch_lightning_version')}, {info.get('tensors')} tensors"
                   f"{' (full Trainer state)' if info.get('full_state') else ' (weights only)'}; outputs = label "
                   f"column(s) {', '.join(map(str, info['label_columns']))} of the {loaded.dataset} data")
    click.echo(f"penultimate embedding: {'yes' if loaded.has_embedding else 'no'}")
    if info.get("metrics"):
        click.echo(_metrics_table(info["metrics"]))


@oracle.command("predict")
@click.argument("oracle_spec", metavar="ORACLE")
@click.argument("sequences", type=click.Path(dir_okay=False, path_type=Path))
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
        help="Predictions table to write (.tsv; .csv for commas).")
@option("--embedding", is_flag=True, default=None, help="Add the oracle's penultimate embedding (emb_0 ... emb_E-1).")
@option("--key", default=None, help="Array of an .npz/.h5 file that is not a d3 sample file (e.g. X_test, arr_0): "
        "one-hot [N, 4, L] or [N, L, 4], or tokens [N, L].")
@option("--batch-size", type=click.IntRange(min=1), default=None, help="Sequences per network call (default 512).")
@option("--device", default=None, help="cpu or cuda (default: cuda if available).")
@option("--force", is_flag=True, default=None, help="Replace an existing output file.")
@click.pass_context
def predict_cmd(ctx: click.Context, oracle_spec: str, sequences: Path, out: Path, embedding: bool | None,
                key: str | None, batch_size: int | None, device: str | None, force: bool | None) -> None:
    """Predict the activities of SEQUENCES (FASTA, d3 sample or design files .npz/.h5/.csv/.tsv, or an array of an
    .npz/.h5 file) with ORACLE (a file, a registered or a published oracle name): one row per sequence (id, the label
    columns; --embedding adds the embedding)."""
    from d3core.evaluation.oracle import resolve_oracle
    from d3core.evaluation.prediction import read_sequences, write_predictions
    from d3core.generation.sampler import default_device

    hold_output(out, force=force)
    loaded = resolve_oracle(oracle_spec, device or default_device(), manager=manager_of(ctx), what="ORACLE",
                            need_file=True)
    ids, tokens = read_sequences(sequences, key=key)
    written = write_predictions(out, loaded, ids, tokens, embedding=bool(embedding), batch_size=batch_size or 512)
    click.echo(f"d3: {len(ids)} sequences scored with {loaded.path} ({', '.join(loaded.label_names)}"
               f"{', embedding' if embedding else ''}) -> {written}")
