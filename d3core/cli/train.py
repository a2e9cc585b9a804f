"""``d3 train``: the Lightning training runner."""
from __future__ import annotations

from pathlib import Path

import click

from d3core.cli.app import manager_of
from d3core.cli.options import PathOrPublished, option
from d3core.errors import D3UserError

#: CLI option -> dotted config key (only options the user typed are merged)
FLAG_KEYS = {
    "dataset": "dataset", "arch": "arch", "preset": "preset", "seed": "seed", "work_dir": "work_dir",
    "data": "data.path", "devices": "lightning.devices", "accelerator": "lightning.accelerator",
    "strategy": "lightning.strategy", "num_nodes": "lightning.num_nodes", "precision": "lightning.precision",
    "max_steps": "training.max_steps", "max_epochs": "training.max_epochs", "batch_size": "training.batch_size",
    "val_check_interval": "training.val_check_interval",
    "early_stopping_patience": "training.early_stopping_patience", "compile": "training.compile",
}


def _number(text: str | None):
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise click.BadParameter(f"{text!r} is neither a number of steps nor a fraction of an epoch") from None


def _devices(text: str | None):
    if text is None:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else text


def collect_flags(values: dict) -> dict:
    """Dotted config keys for the options given on the command line (None = not given)."""
    flags = {FLAG_KEYS[name]: str(value) if isinstance(value, Path) else value
             for name, value in values.items() if name in FLAG_KEYS and value is not None}
    if values.get("gpus") is not None:
        flags.setdefault("lightning.accelerator", "gpu")
        flags["lightning.devices"] = values["gpus"]
    if values.get("logger"):
        flags["loggers"] = list(values["logger"])
    if values.get("callback"):
        flags["callbacks"] = list(values["callback"])
    return flags


@click.command(context_settings={"max_content_width": 110})
@option("--dataset", help="Dataset name (d3 plugins list --kind datasets), e.g. deepstarr, mpra.")
@option("--arch", help="Architecture name (d3 plugins list --kind architectures), e.g. Tran, Conv.")
@option("--preset", help="Architecture preset: tiny (CPU demos and tests) or paper (the published size). "
                         "Default: paper.")
@option("--data", type=PathOrPublished(("data",), dir_okay=False),
        help="The dataset file (default: the dataset's cache, $D3_DATA_DIR or the user cache, ~/.cache/d3 on Linux).")
@option("--work_dir", type=click.Path(file_okay=False, path_type=Path),
        help="The run directory (default runs/<dataset>-<arch>-<timestamp>); an existing one needs --resume_from.")
@option("--resume_from", help="Checkpoint to continue from (any registered format), or 'last' for "
                              "<work_dir>/checkpoints/last.ckpt.")
@option("--legacy_config", type=click.Path(dir_okay=False, path_type=Path),
        help="With --resume_from an original D3 .pth whose run folder does not hold its config: the run's "
             "config.yaml.")
@option("--gpus", type=int, help="Train on N GPUs (DDP when N > 1); same as --accelerator gpu --devices N.")
@option("--devices", help="Devices per node: a count, a list such as 0,1, or auto.")
@option("--accelerator", help="cpu, gpu, cuda, mps or auto (default auto).")
@option("--strategy", help="Lightning strategy (default: ddp for more than one device).")
@option("--num_nodes", type=int, help="Number of nodes (SLURM and torchrun environments are detected).")
@option("--precision", help="32-true, bf16-mixed, 16-mixed; default: bf16-mixed on CUDA with bf16 (Conv: 32-true, as "
                              "the original), else 32-true.")
@option("--max_steps", type=int, help="Total optimizer steps (absolute, also when resuming). Default 1,000,000.")
@option("--max_epochs", type=int, help="Stop after this many epochs (-1: no limit, the default).")
@option("--batch_size", type=int, help="Global batch size (divided over devices x nodes x accum). Default 256.")
@option("--val_check_interval", help="Validate every N optimizer steps (int) or fraction of an epoch (float).")
@option("--early_stopping_patience", type=int, help="Stop after N validations without val_loss improvement.")
@click.option("--compile/--no-compile", "compile", default=None,
              help="torch.compile the score network for training (training.compile). Default auto: only where it "
                   "measured faster (docs/performance.md) -- nowhere yet: on the CPU the step is matrix products "
                   "that compiling cannot speed up. With --compile the first steps take minutes.")
@option("--config_path", type=click.Path(dir_okay=False, path_type=Path),
        help="YAML merged over the defaults (e.g. configs/lightning_config.yaml).")
@option("--logger", multiple=True, help="Logger name, repeatable: tensorboard (default), csv, wandb, mlflow.")
@option("--callback", multiple=True, help="Callback name (d3 plugins list --kind callbacks) or module:Class of "
                                          "your own Lightning callback; repeatable.")
@option("--seed", type=int, help="Random seed (weights, data order, noise). Default 42.")
@option("--fast_dev_run", is_flag=True, default=None, help="Run one training and one validation batch, write nothing "
                                                           "(no run directory, no checkpoint, no logs).")
@option("--dry_run", is_flag=True, default=None, help="Print the resolved config and plugin versions, check the data, "
                                                      "build the model and report its size and the trainer settings "
                                                      "the run will use; do not train.")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.pass_context
def train(ctx: click.Context, overrides: tuple[str, ...], **values) -> None:
    """Train a D3 score model with PyTorch Lightning.

    \b
    Examples:
      d3 train --dataset deepstarr --arch Tran --data ds.h5 --preset tiny --max_steps 50
      d3 train --dataset deepstarr --arch Tran --gpus 2 training.batch_size=256 optim.lr=3e-4
      d3 train --work_dir runs/x --resume_from last
    Trailing KEY=VALUE pairs override any config key (see d3core/config/base.yaml).
    """
    from d3core.config import ConfigSources

    values["val_check_interval"] = _number(values.get("val_check_interval"))
    values["devices"] = _devices(values.get("devices"))
    sources = ConfigSources(config_path=values.get("config_path"), flags=collect_flags(values),
                            overrides=list(overrides))
    from d3core.training.plan import plan_run

    legacy_config = values.get("legacy_config")
    if legacy_config is not None and not values.get("resume_from"):
        raise D3UserError(f"--legacy_config {legacy_config} only applies with --resume_from (the config of the "
                          "original checkpoint being resumed); to start a new run with an original config file, "
                          "pass it as --config_path")
    resume_options = {"arch": values.get("arch"), "config": str(legacy_config) if legacy_config else None}
    plan = plan_run(sources, resume_from=values.get("resume_from"), manager=manager_of(ctx),
                    check_hardware=not values.get("dry_run"), resume_options=resume_options)
    if values.get("dry_run"):
        _dry_run(plan)
        return
    from d3core.training.ranks import is_rank_zero
    from d3core.training.runner import fit

    fast_dev_run = bool(values.get("fast_dev_run"))

    def announce() -> None:
        if not is_rank_zero():
            return
        for note in plan.notes:
            click.echo(f"d3: note: {note}", err=True)
        where = "one training and one validation batch, nothing written" if fast_dev_run else str(plan.run_dir)
        click.echo(f"d3: {'fast dev run of' if fast_dev_run else 'training'} {plan.config.arch} "
                   f"({plan.config.preset}) on {plan.config.dataset} [{plan.data_path}] -> {where}", err=True)

    summary = fit(plan, fast_dev_run=fast_dev_run, announce=announce)
    if not is_rank_zero():
        return
    if fast_dev_run:
        click.echo(f"d3: fast dev run passed (one training and one validation batch, step {summary['global_step']}); "
                   "nothing was written: no run directory, checkpoint or logs")
    elif summary["interrupted"]:
        click.echo(f"d3: stopped by SIGTERM at step {summary['global_step']}; checkpoint {summary['last_checkpoint']}; "
                   f"continue with: d3 train --work_dir {summary['run_dir']} --resume_from last")
    else:
        click.echo(f"d3: finished at step {summary['global_step']}")
        if summary.get("unsaved"):
            path, step = summary["unsaved"][-1]
            click.echo(f"d3: warning: {len(summary['unsaved'])} checkpoint save(s) found no room, the last {path} "
                       f"at step {step}: the checkpoints on disk are older", err=True)
        if summary["last_checkpoint"]:
            click.echo(f"d3: checkpoint: {summary['last_checkpoint']}")
        click.echo(f"d3: run directory (config.yaml, plugins.txt, logs): {summary['run_dir']}")


def _dry_run(plan) -> None:
    """Print what the run would be: the config, plugins, data, model size and the trainer settings as the run will
    resolve them (``auto`` values included, with what this machine cannot know), and the notes."""
    from omegaconf import OmegaConf

    from d3core.training.plan import build_run_network, count_parameters, plugin_versions

    parameters = count_parameters(build_run_network(plan))  # sizes the architecture cannot build fail before any output
    config = plan.config
    click.echo("# resolved config")
    click.echo(OmegaConf.to_yaml(config).rstrip())
    click.echo("# plugins")
    for name, version in sorted(plugin_versions(plan).items()):
        click.echo(f"{name}=={version}")
    click.echo(f"# data: {plan.data_path} (valid)")
    click.echo(f"# model: {config.arch} preset {config.preset}, {parameters:,} parameters")
    click.echo("# trainer, as the run will use it:")
    settings = plan.settings
    for key, value in (("accelerator", settings.accelerator), ("processes", settings.processes),
                       ("strategy", settings.strategy), ("precision", settings.precision),
                       ("compile", settings.compile)):
        click.echo(f"#   {key:<12} {value}")
    for note in plan.notes:
        click.echo(f"# note: {note}")
    click.echo(f"# run directory: {plan.run_dir} (dry run: nothing written)")
