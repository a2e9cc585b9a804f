"""``--resume_from``: any registered checkpoint format becomes a Lightning checkpoint Lightning can restore, and the
settings a resumed run takes from its checkpoint are checked against the user's."""
from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from d3core.checkpoints import detect_format, load_bundle, save_bundle
from d3core.checkpoints.published import resolve_published
from d3core.config import check_loaded_config
from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager

__all__ = ["CHECKPOINT_OWNED", "check_resume_conflicts", "resume_source"]

#: sections that a resumed run takes from its checkpoint (a conflicting user value is an error)
CHECKPOINT_OWNED = ("model", "graph", "noise", "tokens", "dataset", "arch")


def resume_source(resume_from: str | None, work_dir: str | None, manager: D3PluginManager, **options: Any):
    """``(lightning .ckpt path or None, checkpoint config or None)`` for ``--resume_from``; ``options`` (e.g.
    ``arch``, ``config``) reach the format's ``load`` when its signature names them.

    Any registered format is accepted: a non-Lightning checkpoint (an original D3 ``.pth`` or run directory, a
    plugin format) is converted to a full Lightning checkpoint in a temporary folder (removed at exit) -- loops at
    its step, optimizer moments re-indexed by parameter name, LambdaLR at the step, EMA, epoch -- which Lightning
    then restores as its own.
    """
    if not resume_from:
        return None, None
    if resume_from == "last":
        if not work_dir:
            raise D3UserError("--resume_from last needs --work_dir (the run directory to continue)")
        resume_from = str(Path(work_dir) / "checkpoints" / "last.ckpt")
    else:  # a published model's name (d3 models list) is fetched into the cache when missing
        resume_from = str(resolve_published(resume_from, kinds=("model",), manager=manager,
                                            echo=lambda line: print(line, file=sys.stderr)))
    name, fmt = detect_format(resume_from, manager)
    if name == "lightning":  # a .ckpt, or a run directory's checkpoints/last.ckpt
        from d3core.builtin.checkpoint_lightning import LightningFormat

        checkpoint = LightningFormat.checkpoint_file(Path(resume_from))
        config = fmt.load(checkpoint).config
        check_loaded_config(config, f"checkpoint {checkpoint}")
        return checkpoint, config
    _, bundle = load_bundle(resume_from, manager, format=name, **options)
    folder = Path(tempfile.mkdtemp(prefix="d3-resume-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    converted = save_bundle(bundle, "lightning", folder / "resume.ckpt", manager)
    return converted, bundle.config


def check_resume_conflicts(config: DictConfig, checkpoint_config: dict) -> None:
    for key in CHECKPOINT_OWNED:
        mine, theirs = OmegaConf.select(config, key), checkpoint_config.get(key)
        mine = OmegaConf.to_container(mine) if OmegaConf.is_config(mine) else mine
        if isinstance(theirs, dict):
            for sub, value in theirs.items():
                if sub in mine and mine[sub] != value:
                    raise D3UserError(f"{key}.{sub}={mine[sub]!r} conflicts with the checkpoint being resumed "
                                      f"({value!r}); drop the flag, or start a new run without --resume_from")
        elif mine is not None and theirs is not None and str(mine).lower() != str(theirs).lower():
            raise D3UserError(f"{key}={mine!r} conflicts with the checkpoint being resumed ({theirs!r}); drop the "
                              "flag, or start a new run without --resume_from")
