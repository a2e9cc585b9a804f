"""Lightning checkpoint IO whose saves are atomic (a killed job never leaves a truncated ``last.ckpt``) and whose
saves without room (a full disk, a quota, ``ulimit -f``) stop training or let it go on, as configured
(``lightning.checkpoint.on_full_disk``); either way the previous checkpoint file stays loadable."""
from __future__ import annotations

import warnings
from typing import Any

from pytorch_lightning.plugins import TorchCheckpointIO

from d3core.atomic import NoSpaceError, atomic_torch_save


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` writing through a temporary file and ``os.replace``.

    ``on_full_disk``: ``"stop"`` raises the :class:`~d3core.atomic.NoSpaceError` (training stops with its one line);
    ``"continue"`` warns and trains on; :attr:`unsaved` lists ``(path, step)`` of every save that found no room.
    """

    def __init__(self, on_full_disk: str = "stop"):
        super().__init__()
        self.on_full_disk = on_full_disk
        self.unsaved: list[tuple[str, int]] = []

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        try:
            atomic_torch_save(checkpoint, path)
        except NoSpaceError as exc:
            step = int(checkpoint.get("global_step", 0))
            self.unsaved.append((str(path), step))
            if self.on_full_disk != "continue":
                raise NoSpaceError(f"{exc}; training stopped at step {step} (lightning.checkpoint.on_full_disk="
                                   "continue trains on without saving)") from exc
            warnings.warn(f"{exc}; training goes on without the checkpoint of step {step} "
                          "(lightning.checkpoint.on_full_disk=continue)")
