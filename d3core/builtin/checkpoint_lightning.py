"""Built-in checkpoint format ``lightning``: the ``.ckpt`` files ``d3 train`` writes.

A d3 Lightning checkpoint is Lightning's own dictionary (``state_dict`` with ``model.``-prefixed parameter names,
``optimizer_states``, ``lr_schedulers``, ``loops``, ``global_step``, ``epoch``) plus ``d3_config`` (the run config as
plain containers), ``d3_ema`` (EMA shadows by parameter name), ``d3_rng`` and ``d3_versions``; a checkpoint converted
from an original D3 run also carries ``d3_legacy`` (the original hydra config and key layout, so converting back
rebuilds the same original file). Every file loads with ``torch.load(weights_only=True)``.

``save(bundle, path)`` writes a *resumable* checkpoint for any bundle: the optimizer state re-indexed to the order of
``model.parameters()``, the LambdaLR warm-up at the bundle's step, loops whose counters say ``step`` optimizer steps
were taken, the EMA and the epoch -- ``d3 train --resume_from`` hands it to Lightning as it is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from d3core.api import hookimpl

MODEL_PREFIX = "model."
#: d3's own keys in a .ckpt (``d3core.training.module`` writes them; defined here, where no Lightning import is needed)
CONFIG_KEY, EMA_KEY, RNG_KEY, VERSIONS_KEY = "d3_config", "d3_ema", "d3_rng", "d3_versions"
LEGACY_KEY = "d3_legacy"


@hookimpl
def register_checkpoint_formats(register):
    register("lightning", "d3core.builtin.checkpoint_lightning:LightningFormat", aliases=("ckpt",),
             description="PyTorch Lightning .ckpt written by d3 train (EMA and config inside)", suffix=".ckpt")


def _lightning_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for name in ("pytorch-lightning", "lightning"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "2.0.0"


# -- the one piece of Lightning's private state d3 writes by hand ------------------------------------------------------
def _progress(value: int, fields: tuple[str, ...]) -> dict[str, Any]:
    counters = {name: int(value) for name in fields}
    return {"total": dict(counters), "current": dict(counters)}


def lightning_loops(step: int, batches: int) -> dict[str, Any]:
    """Lightning's ``loops`` state after ``step`` optimizer steps over ``batches`` training batches, in epoch 0.

    The counters are those ``trainer.save_checkpoint`` writes at the end of a training batch (Lightning 2.x key
    layout); the d3 data module places the data stream from ``global_step`` alone, so the epoch is irrelevant to
    which batch comes next. Building them through a Trainer would import Lightning (seconds) for every conversion,
    so this is the only Lightning state written by hand; ``tests/checkpoints/test_resume_from_pth.py`` compares its
    key layout with what a real resumed Trainer writes, and fails when Lightning changes it.
    """
    batch_fields = ("ready", "started", "processed", "completed")
    zero_batches = {**_progress(0, batch_fields), "is_last_batch": False}
    return {
        "fit_loop": {
            "state_dict": {},
            "epoch_loop.state_dict": {"_batches_that_stepped": int(step)},
            "epoch_loop.batch_progress": {**_progress(batches, batch_fields), "is_last_batch": False},
            "epoch_loop.scheduler_progress": _progress(step, ("ready", "completed")),
            "epoch_loop.automatic_optimization.state_dict": {},
            "epoch_loop.automatic_optimization.optim_progress": {"optimizer": {
                "step": _progress(step, ("ready", "completed")),
                "zero_grad": _progress(step, ("ready", "started", "completed"))}},
            "epoch_loop.manual_optimization.state_dict": {},
            "epoch_loop.manual_optimization.optim_step_progress": _progress(0, ("ready", "completed")),
            "epoch_loop.val_loop.state_dict": {},
            "epoch_loop.val_loop.batch_progress": dict(zero_batches),
            "epoch_progress": _progress(0, batch_fields),
        },
        "validate_loop": {"state_dict": {}, "batch_progress": dict(zero_batches)},
        "test_loop": {"state_dict": {}, "batch_progress": dict(zero_batches)},
        "predict_loop": {"state_dict": {}, "batch_progress": _progress(0, batch_fields)},
    }


def optimizer_and_scheduler_state(network, optim: dict[str, Any], step: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(optimizer state dict, LambdaLR state dict)`` of d3's optimiser after ``step`` optimizer steps, as torch
    itself writes them: the real AdamW and LambdaLR (:mod:`d3core.checkpoints.optimizer`) are built over the
    parameters of ``network`` (meta tensors are fine: nothing is allocated) and the scheduler is started at ``step``.
    The optimizer state has no moments yet."""
    import torch

    from d3core.checkpoints.optimizer import build_optimizer, warmup_factor

    optimizer = build_optimizer(network.parameters(), optim)
    for group in optimizer.param_groups:  # torch's convention for a scheduler resumed at last_epoch
        group["initial_lr"] = group["lr"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(int(optim.get("warmup", 0))),
                                                  last_epoch=int(step) - 1)
    return optimizer.state_dict(), scheduler.state_dict()


class LightningFormat:
    """Detects, loads and saves d3 Lightning checkpoints."""

    name = "lightning"
    suffix = ".ckpt"

    @staticmethod
    def checkpoint_file(path: Path) -> Path:
        """``path`` itself, or ``<run>/checkpoints/last.ckpt`` when ``path`` is a ``d3 train`` run directory."""
        path = Path(path)
        last = path / "checkpoints" / "last.ckpt"
        return last if path.is_dir() and (path / "config.yaml").is_file() and last.is_file() else path

    @staticmethod
    def detect(path: Path) -> bool:
        """A file holding Lightning's ``state_dict``/``pytorch-lightning_version`` keys (read lazily with mmap), or a
        ``d3 train`` run directory (its ``checkpoints/last.ckpt``)."""
        path = LightningFormat.checkpoint_file(path)
        if not path.is_file():
            return False
        import zipfile

        if not zipfile.is_zipfile(path):
            return False
        from d3core.checkpoints import UnsafeCheckpointError, safe_torch_load

        try:
            content = safe_torch_load(path, mmap=True)
        except UnsafeCheckpointError:
            raise
        except Exception:
            return False
        return isinstance(content, dict) and "state_dict" in content and "pytorch-lightning_version" in content

    @staticmethod
    def load(path: Path):
        """Read a d3 ``.ckpt`` (or a run directory's ``last.ckpt``) into a
        :class:`~d3core.checkpoints.CheckpointBundle` (optimizer state by name)."""
        from d3core.checkpoints import CheckpointBundle, optimizer_by_name, parameter_names, safe_torch_load
        from d3core.errors import D3UserError

        path = LightningFormat.checkpoint_file(path)
        content = safe_torch_load(path, mmap=True)
        if not isinstance(content, dict) or "state_dict" not in content:
            raise D3UserError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
        if CONFIG_KEY not in content:
            raise D3UserError(f"{path}: a Lightning checkpoint without d3's run config ({CONFIG_KEY!r}); it was not "
                              "written by d3 train")
        config = content[CONFIG_KEY]
        model = {k[len(MODEL_PREFIX):]: v for k, v in content["state_dict"].items() if k.startswith(MODEL_PREFIX)}
        extra = {"lightning": {key: content[key] for key in ("loops", "callbacks", RNG_KEY) if key in content}}
        if LEGACY_KEY in content:
            extra["legacy"] = content[LEGACY_KEY]
        bundle = CheckpointBundle(
            config=config, model=model, ema=content.get(EMA_KEY),
            scheduler=(content.get("lr_schedulers") or [None])[0],
            step=int(content.get("global_step", 0)), epoch=int(content.get("epoch", 0)),
            architecture=config.get("arch"), dataset=config.get("dataset"),
            precision=(config.get("lightning") or {}).get("precision"),
            versions=dict(content.get(VERSIONS_KEY) or {}), source_format="lightning", extra=extra)
        optimizer = (content.get("optimizer_states") or [None])[0]
        if optimizer:
            bundle.optimizer = optimizer
            bundle.optimizer = optimizer_by_name(optimizer, parameter_names(bundle), source=str(path))
        return bundle

    @staticmethod
    def save(bundle, path: Path) -> None:
        """Write ``bundle`` as a resumable d3 Lightning checkpoint at ``path`` (atomically)."""
        import d3core
        from d3core.atomic import atomic_torch_save
        from d3core.checkpoints import build_network, optimizer_by_index
        from d3core.config import load_base
        from d3core.errors import D3UserError
        from d3core.plain_data import to_plain

        config = to_plain(bundle.config)
        step = int(bundle.step)
        network = build_network(config, bundle.architecture, device="meta")
        names = [name for name, _ in network.named_parameters()]
        shapes = {name: tuple(p.shape) for name, p in network.named_parameters()}
        expected = network.state_dict()
        missing = [k for k in expected if k not in bundle.model]
        unexpected = [k for k in bundle.model if k not in expected]
        if missing or unexpected:
            raise D3UserError(f"cannot write a Lightning checkpoint: the weights do not fit architecture "
                              f"{bundle.architecture or config.get('arch')} (missing {missing[:3]}, unexpected "
                              f"{unexpected[:3]})")
        for key, tensor in expected.items():
            if tuple(bundle.model[key].shape) != tuple(tensor.shape):
                raise D3UserError(f"cannot write a Lightning checkpoint: {key} has shape "
                                  f"{tuple(bundle.model[key].shape)}, the network {tuple(tensor.shape)}")
        checkpoint: dict[str, Any] = {
            "epoch": int(bundle.epoch),
            "global_step": step,
            "pytorch-lightning_version": _lightning_version(),
            "state_dict": {MODEL_PREFIX + k: bundle.model[k] for k in expected},
        }
        passthrough = (bundle.extra or {}).get("lightning") or {}
        accum = int((config.get("training") or {}).get("accum", 1))
        keep_loops = bundle.source_format == "lightning" and "loops" in passthrough
        checkpoint["loops"] = passthrough["loops"] if keep_loops else lightning_loops(step, step * accum)
        checkpoint["callbacks"] = passthrough.get("callbacks", {}) if keep_loops else {}

        optim = {**to_plain(load_base().optim), **(config.get("optim") or {})}  # base.yaml fills what a bundle lacks
        torch_optimizer, scheduler = optimizer_and_scheduler_state(network, optim, step)
        if bundle.scheduler and bundle.source_format == "lightning":
            scheduler = bundle.scheduler
        group = torch_optimizer["param_groups"][0]
        named = optimizer_by_index(bundle.optimizer, names, shapes, target=str(path))
        if named is not None:  # the bundle's own hyper-parameters (and moments) win over the config's
            group.update({k: to_plain(v) for k, v in named["param_groups"][0].items()
                          if k not in ("params", "lr", "initial_lr")})
            group["betas"] = tuple(float(b) for b in group["betas"])
        group["lr"] = float((scheduler.get("_last_lr") or [group["lr"]])[0])
        checkpoint["optimizer_states"] = [{"state": named["state"] if named else {}, "param_groups": [group]}]
        checkpoint["lr_schedulers"] = [scheduler]

        checkpoint[CONFIG_KEY] = config
        if bundle.ema:
            shadow = bundle.ema.get("shadow") or {}
            trainable = [name for name, p in network.named_parameters() if p.requires_grad]
            if set(shadow) != set(trainable):
                odd = sorted(set(shadow) ^ set(trainable))
                raise D3UserError(f"cannot write a Lightning checkpoint: the EMA tracks other parameters than the "
                                  f"network's trainable ones (e.g. {odd[0]})")
            checkpoint[EMA_KEY] = {"decay": float(bundle.ema.get("decay", 0.9999)),
                                   "num_updates": int(bundle.ema.get("num_updates") or 0),
                                   "shadow": {name: shadow[name] for name in trainable}}
        versions = dict(bundle.versions or {})
        versions.setdefault("d3core", d3core.__version__)
        checkpoint[VERSIONS_KEY] = versions
        if keep_loops and RNG_KEY in passthrough:
            checkpoint[RNG_KEY] = passthrough[RNG_KEY]
        if (bundle.extra or {}).get("legacy"):
            checkpoint[LEGACY_KEY] = bundle.extra["legacy"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(checkpoint, path)
