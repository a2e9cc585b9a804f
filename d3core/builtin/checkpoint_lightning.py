"""Built-in checkpoint format ``lightning``: the ``.ckpt`` files ``d3 train`` writes.

A d3 Lightning checkpoint is Lightning's own dictionary (``state_dict`` with ``model.``-prefixed parameter names,
``optimizer_states``, ``lr_schedulers``, ``loops``, ``global_step``, ``epoch``) plus ``d3_config`` (the run config as
plain containers), ``d3_ema`` (EMA shadows by parameter name), ``d3_rng`` and ``d3_versions``. Every file loads with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from pathlib import Path

from d3core import hookimpl

MODEL_PREFIX = "model."


@hookimpl
def register_checkpoint_formats(register):
    register("lightning", "d3core.builtin.checkpoint_lightning:LightningFormat", aliases=("ckpt",),
             description="PyTorch Lightning .ckpt written by d3 train (EMA and config inside)")


class LightningFormat:
    """Detects and loads d3 Lightning checkpoints."""

    name = "lightning"

    @staticmethod
    def detect(path: Path) -> bool:
        """A file holding Lightning's ``state_dict``/``pytorch-lightning_version`` keys (read lazily with mmap)."""
        path = Path(path)
        if not path.is_file():
            return False
        import zipfile

        if not zipfile.is_zipfile(path):
            return False
        from d3core.checkpoints import safe_torch_load

        try:
            content = safe_torch_load(path, mmap=True)
        except Exception:
            return False
        return isinstance(content, dict) and "state_dict" in content and "pytorch-lightning_version" in content

    @staticmethod
    def load(path: Path):
        """Read a d3 ``.ckpt`` into a :class:`~d3core.checkpoints.CheckpointBundle`."""
        from d3core.checkpoints import CheckpointBundle, safe_torch_load
        from d3core.errors import D3UserError
        from d3core.training.module import CONFIG_KEY, EMA_KEY, VERSIONS_KEY

        content = safe_torch_load(path)
        if CONFIG_KEY not in content:
            raise D3UserError(f"{path}: a Lightning checkpoint without d3's run config ({CONFIG_KEY!r}); it was not "
                              "written by d3 train")
        config = content[CONFIG_KEY]
        model = {k[len(MODEL_PREFIX):]: v for k, v in content["state_dict"].items() if k.startswith(MODEL_PREFIX)}
        ema = content.get(EMA_KEY)
        return CheckpointBundle(
            config=config, model=model, ema=ema,
            optimizer=(content.get("optimizer_states") or [None])[0],
            scheduler=(content.get("lr_schedulers") or [None])[0],
            step=int(content.get("global_step", 0)), epoch=int(content.get("epoch", 0)),
            architecture=config.get("arch"), dataset=config.get("dataset"),
            precision=(config.get("lightning") or {}).get("precision"),
            versions=dict(content.get(VERSIONS_KEY) or {}), source_format="lightning")
