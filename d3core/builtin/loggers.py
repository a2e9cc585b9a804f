"""Built-in experiment loggers: ``tensorboard`` (default), ``csv``, ``wandb`` and ``mlflow``.

Each factory is called as ``factory(run_dir, config)`` and returns a Lightning logger writing inside the run
directory. Libraries are imported only when the logger is built.
"""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

from d3core import hookimpl
from d3core.plain_data import to_plain


def _available(module: str) -> bool:
    return find_spec(module) is not None


@hookimpl
def register_loggers(register):
    register("tensorboard", "d3core.builtin.loggers:make_tensorboard_logger", aliases=("tb",),
             description="TensorBoard event files in <run>/tensorboard (default)", requires="tensorboard",
             available=_available("tensorboard"))
    register("csv", "d3core.builtin.loggers:make_csv_logger",
             description="metrics.csv in <run>/csv", available=True)
    register("wandb", "d3core.builtin.loggers:make_wandb_logger",
             description="Weights & Biases (set WANDB_MODE=offline to work without network)", requires="wandb",
             available=_available("wandb"))
    register("mlflow", "d3core.builtin.loggers:make_mlflow_logger",
             description="MLflow tracking in a sqlite store <run>/mlflow.db", requires="mlflow",
             available=_available("mlflow"))


def _section(config: Any, key: str) -> dict:
    """``config[key]`` as a plain dict (config may be an OmegaConf DictConfig, a dict or None)."""
    value = config.get(key) if config is not None and hasattr(config, "get") else None
    return {} if value is None else dict(to_plain(value))


def make_tensorboard_logger(run_dir: Path, config: Any = None):
    from pytorch_lightning.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="")


def make_csv_logger(run_dir: Path, config: Any = None):
    from pytorch_lightning.loggers import CSVLogger

    return CSVLogger(save_dir=str(run_dir), name="csv", version="")


def make_wandb_logger(run_dir: Path, config: Any = None):
    from pytorch_lightning.loggers import WandbLogger

    settings = _section(config, "wandb")
    return WandbLogger(save_dir=str(run_dir), project=settings.get("project") or "d3",
                       entity=settings.get("entity"), name=Path(run_dir).name)


def make_mlflow_logger(run_dir: Path, config: Any = None):
    from pytorch_lightning.loggers import MLFlowLogger

    settings = _section(config, "mlflow")
    run_dir = Path(run_dir).resolve()
    return MLFlowLogger(experiment_name=settings.get("experiment") or "d3",
                        tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}", run_name=run_dir.name,
                        artifact_location=(run_dir / "mlflow-artifacts").as_uri())
