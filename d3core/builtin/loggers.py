"""Built-in experiment loggers: ``tensorboard`` (default), ``csv``, ``wandb`` and ``mlflow``.

Each factory is called as ``factory(run_dir, config)`` and returns a Lightning logger writing inside the run
directory (MLflow: or to the ``mlflow.tracking_uri`` given). Libraries are imported only when the logger is built.
Settings (``d3core/config/base.yaml``): ``tensorboard.name``; ``wandb.project``, ``wandb.entity``, ``wandb.tags``,
``wandb.offline``; ``mlflow.experiment``, ``mlflow.tracking_uri``.
"""
from __future__ import annotations

import netrc
import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

from d3core.api import hookimpl
from d3core.errors import D3UserError
from d3core.plain_data import to_plain


def _available(module: str) -> bool:
    return find_spec(module) is not None


@hookimpl
def register_loggers(register):
    register("tensorboard", "d3core.builtin.loggers:make_tensorboard_logger", aliases=("tb",),
             description="TensorBoard event files in <run>/tensorboard (default; tensorboard.name)",
             requires="tensorboard", available=_available("tensorboard"))
    register("csv", "d3core.builtin.loggers:make_csv_logger",
             description="metrics.csv in <run>/csv", available=True)
    register("wandb", "d3core.builtin.loggers:make_wandb_logger",
             description="Weights & Biases (offline, for wandb sync, on a machine without a W&B login)",
             requires="wandb", available=_available("wandb"))
    register("mlflow", "d3core.builtin.loggers:make_mlflow_logger",
             description="MLflow tracking: mlflow.tracking_uri, default a sqlite store <run>/mlflow.db",
             requires="mlflow", available=_available("mlflow"))


def _section(config: Any, key: str) -> dict:
    """``config[key]`` as a plain dict (config may be an OmegaConf DictConfig, a dict or None)."""
    value = config.get(key) if config is not None and hasattr(config, "get") else None
    return {} if value is None else dict(to_plain(value))


def _text(settings: dict, key: str, section: str) -> str | None:
    """``settings[key]`` as a string or None; anything else is a D3UserError naming ``section.key``."""
    value = settings.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise D3UserError(f"config {section}.{key}={value!r} must be a string")


def make_tensorboard_logger(run_dir: Path, config: Any = None):
    """TensorBoard event files in ``<run>/<tensorboard.name>`` (default ``tensorboard``)."""
    from pytorch_lightning.loggers import TensorBoardLogger

    name = _text(_section(config, "tensorboard"), "name", "tensorboard") or "tensorboard"
    return TensorBoardLogger(save_dir=str(run_dir), name=name, version="")


def make_csv_logger(run_dir: Path, config: Any = None):
    from pytorch_lightning.loggers import CSVLogger

    return CSVLogger(save_dir=str(run_dir), name="csv", version="")


# -- Weights & Biases ----------------------------------------------------------------------------------------------
def wandb_has_login(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this machine can log to W&B online: ``WANDB_API_KEY``, or ``wandb login``'s entry for the W&B host
    (``WANDB_BASE_URL``, default api.wandb.ai) in the netrc file (``$NETRC``, else ``~/.netrc`` or ``~/_netrc``)."""
    if env.get("WANDB_API_KEY"):
        return True
    host = urlparse(env.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    home = Path(env.get("HOME") or Path.home())
    candidates = [Path(env["NETRC"])] if env.get("NETRC") else [home / ".netrc", home / "_netrc"]
    for path in candidates:
        try:
            if netrc.netrc(str(path)).authenticators(host):
                return True
        except (OSError, netrc.NetrcParseError):
            continue
    return False


def wandb_offline(config: Any = None, env: Mapping[str, str] = os.environ) -> tuple[bool, str | None]:
    """``(offline, why)``: ``wandb.offline`` when set (true/false); ``WANDB_MODE`` when set (W&B reads it itself);
    else offline exactly when this machine has no W&B login (``why`` says so, for the run's notes)."""
    chosen = _section(config, "wandb").get("offline")
    if chosen is not None:
        if not isinstance(chosen, bool):
            raise D3UserError(f"config wandb.offline={chosen!r} must be true, false or null (null: offline when this "
                              "machine has no W&B login)")
        return chosen, None
    if env.get("WANDB_MODE"):
        return False, None
    if wandb_has_login(env):
        return False, None
    return True, ("wandb: no W&B login on this machine (WANDB_API_KEY or 'wandb login'), so the run logs offline "
                  "to <run>/wandb; upload it later with 'wandb sync <run>/wandb/offline-run-*'")


def make_wandb_logger(run_dir: Path, config: Any = None):
    """W&B logger: ``wandb.project``, ``wandb.entity``, ``wandb.tags``, run name = the run directory's name; offline
    as :func:`wandb_offline` decides; files in ``<run>/wandb``."""
    from pytorch_lightning.loggers import WandbLogger

    settings = _section(config, "wandb")
    tags = settings.get("tags") or []
    if isinstance(tags, str) or not all(isinstance(t, (str, int, float)) for t in tags):
        raise D3UserError(f"config wandb.tags={tags!r} must be a list of names, e.g. wandb.tags=[deepstarr,baseline]")
    offline, _ = wandb_offline(config)
    return WandbLogger(save_dir=str(run_dir), project=_text(settings, "project", "wandb") or "d3",
                       entity=_text(settings, "entity", "wandb"), name=Path(run_dir).name,
                       tags=[str(t) for t in tags] or None, offline=offline)


# -- MLflow ------------------------------------------------------------------------------------------------------------
def mlflow_tracking_uri(run_dir: Path, config: Any = None) -> str:
    """``mlflow.tracking_uri``, default a sqlite store in the run directory (``sqlite:///<run>/mlflow.db``)."""
    uri = _text(_section(config, "mlflow"), "tracking_uri", "mlflow")
    return uri or f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"


def is_file_store(uri: str) -> bool:
    """Whether ``uri`` names MLflow's file store (``file:...`` or a plain path), kept by MLflow 3 only on request."""
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter: C:\\runs


def make_mlflow_logger(run_dir: Path, config: Any = None):
    """MLflow logger: experiment ``mlflow.experiment``, tracking server ``mlflow.tracking_uri`` (default the sqlite
    store ``<run>/mlflow.db``, artifacts in ``<run>/mlflow-artifacts``), run name = the run directory's name.

    A file store URI (``file:./ml-runs``) is one the user asked for: MLflow 3 refuses it unless
    ``MLFLOW_ALLOW_FILE_STORE`` is true, which is set for this process unless the user set it (see the run's note)."""
    from pytorch_lightning.loggers import MLFlowLogger

    settings = _section(config, "mlflow")
    run_dir = Path(run_dir).resolve()
    chosen = _text(settings, "tracking_uri", "mlflow")
    uri = mlflow_tracking_uri(run_dir, config)
    if chosen and is_file_store(chosen):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    artifacts = None if chosen else (run_dir / "mlflow-artifacts").as_uri()
    return MLFlowLogger(experiment_name=_text(settings, "experiment", "mlflow") or "d3", tracking_uri=uri,
                        run_name=run_dir.name, artifact_location=artifacts)


def logger_notes(names: list[str], config: Any = None) -> list[str]:
    """One line per built-in logger setting that works differently on this machine than it reads."""
    notes = []
    lowered = [n.lower() for n in names]
    if "wandb" in lowered:
        why = wandb_offline(config)[1]
        if why:
            notes.append(why)
    if "mlflow" in lowered:
        chosen = _text(_section(config, "mlflow"), "tracking_uri", "mlflow")
        if chosen and is_file_store(chosen):
            notes.append(f"mlflow.tracking_uri={chosen} is MLflow's file store, kept by MLflow 3 only on request "
                         "(d3 sets MLFLOW_ALLOW_FILE_STORE=true unless you set it); sqlite:///mlflow.db is the "
                         "maintained store")
    return notes
