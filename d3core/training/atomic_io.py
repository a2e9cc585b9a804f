"""Lightning checkpoint IO whose saves are atomic (a killed job never leaves a truncated ``last.ckpt``)."""
from __future__ import annotations

from typing import Any

from pytorch_lightning.plugins import TorchCheckpointIO

from d3core.atomic import atomic_torch_save


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` writing through a temporary file and ``os.replace``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        atomic_torch_save(checkpoint, path)
