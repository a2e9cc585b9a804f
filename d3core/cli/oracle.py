"""``d3 oracle``: train a dataset's oracle (the activity predictor that scores generated sequences), or inspect one."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import D3Group, manager_of
from d3core.cli.options import option


@click.group(cls=D3Group)
def oracle() -> None:
    """Oracles: CNNs that predict a dataset's activities from sequence (DeepSTARR CNN, MPRA CNN).

    \b
      d3 oracle train --dataset deepstarr --data ds.h5     writes ds.oracle.ckpt beside the data
      d3 oracle info ds.oracle.ckpt                        dataset, labels, test Pearson/Spearman
    """


def _metrics_table(metrics: dict) -> str:
    pearson, spearman = metrics.get("test_pearson", {}), metrics.get("test_spearman", {})
    lines = [f"{'label':<12} {'test Pearson':>12} {'test Spearman':>13}"]
    for name in pearson:
        lines.append(f"{name:<12} {pearson[name]:>12.4f} {spearman.get(name, float('nan')):>13.4f}")
    return "\n".join(lines)


@oracle.command("train")
@option("--dataset", required=True, help="Dataset name (d3 plugins list --kind datasets).")
@option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="The dataset file (default: the dataset's cache, $D3_DATA_DIR or ~/.cache/d3).")
@option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Oracle file to write (default: <data dir>/<data stem>.oracle.ckpt, where d3 evaluate looks).")
@option("--max-epochs", type=click.IntRange(min=1), default=None, help="At most this many epochs (default 100).")
@option("--patience", type=click.IntRange(min=1), default=None,
        help="Early stopping: epochs without val_loss improvement (default 10).")
@option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size (default 128).")
@option("--lr", type=float, default=None, help="Adam learning rate (default 2e-3).")
@option("--seed", type=int, default=None, help="Random seed (default 41).")
@option("--accelerator", default=None, help="cpu, gpu or auto (default auto).")
@option("--limit-train", type=click.IntRange(min=1), default=None, help="Use only the first N training rows.")
@option("--force", is_flag=True, default=None, help="Replace an existing oracle file.")
@click.pass_context
def train_cmd(ctx: click.Context, dataset: str, data: Path | None, out: Path | None, max_epochs: int | None,
              patience: int | None, batch_size: int | None, lr: float | None, seed: int | None,
              accelerator: str | None, limit_train: int | None, force: bool | None) -> None:
    """Train DATASET's oracle with Lightning (early stopping on valid) and report test Pearson/Spearman per label."""
    from d3core.errors import D3UserError
    from d3core.evaluation.oracle import default_oracle_path, train_oracle

    ds = manager_of(ctx).dataset(dataset)
    path = ds.require(data)
    ds.validate(path)  # another dataset's file or a corrupt one fails before anything is announced
    target = out or default_oracle_path(path)
    if target.exists() and not force:
        raise D3UserError(f"{target}: already exists; pass --force to retrain it, or -o another file")
    click.echo(f"d3: training the {ds.name} oracle on {path} -> {target}", err=True)
    written, metrics = train_oracle(ds, path, target, max_epochs=max_epochs, patience=patience,
                                    batch_size=batch_size, lr=lr, seed=seed, accelerator=accelerator or "auto",
                                    limit_train=limit_train, echo=lambda line: click.echo(f"d3: {line}", err=True))
    click.echo(_metrics_table(metrics))
    click.echo(f"d3: {metrics['epochs']} epoch(s), best epoch {metrics['best_epoch']}; test MSE "
               f"{metrics['test_mse']:.4f} on {metrics['test_rows']} rows")
    click.echo(f"d3: oracle: {written}")


@oracle.command("info")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def info_cmd(path: Path) -> None:
    """Show what an oracle file holds: dataset, labels, network, test metrics."""
    from d3core.evaluation.oracle import load_oracle

    loaded = load_oracle(path)
    info = loaded.info
    click.echo(f"{path}: oracle for {info.get('dataset')} ({info.get('network')}), {loaded.length} bp, labels "
               f"{', '.join(loaded.label_names)}; trained on {info.get('data')}")
    if info.get("metrics"):
        click.echo(_metrics_table(info["metrics"]))
