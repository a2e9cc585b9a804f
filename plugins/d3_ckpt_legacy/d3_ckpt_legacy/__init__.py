"""Checkpoint-format plugin for d3: original D3 .pth run directories.

Registers the format ``legacy`` (aliases ``pth``, ``original``): an original run directory (``hydra/config.yaml`` or
``.hydra/config.yaml`` with ``checkpoints/checkpoint.pth``, ``checkpoints/checkpoint_N.pth`` or
``checkpoints-meta/checkpoint.pth``) or a lone ``.pth`` holding ``{model, ema, optimizer, step}``, loaded onto d3's
``Tran``/``Conv`` and written back in the original layout. See :mod:`d3_ckpt_legacy.format`.

This module holds only light hook implementations (no torch import at module level).
"""
from d3core.api import hookimpl


@hookimpl
def register_checkpoint_formats(register):
    register("legacy", "d3_ckpt_legacy.format:LegacyRunFormat", aliases=("pth", "original"),
             description="original D3 run directories and .pth files (hydra/config.yaml + checkpoints/*.pth)",
             suffix="", layout="run directory")
