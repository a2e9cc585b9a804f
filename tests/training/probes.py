"""User callbacks (``--callback probes:NAME``) that the subprocess tests put on PYTHONPATH."""
import os
from pathlib import Path

import pytorch_lightning as pl
import torch


class SaveRankWeights(pl.Callback):
    """Each rank saves its weights as rank<N>.pt in the run directory (test_ddp)."""

    def on_train_end(self, trainer, module):
        state = {k: v.detach().cpu() for k, v in module.state_dict().items() if k.startswith("model.")}
        torch.save(state, os.path.join(trainer.default_root_dir, f"rank{trainer.global_rank}.pt"))


class MarkStep(pl.Callback):
    """Writes the global step to <run>/step.txt after every optimizer step (test_sigterm waits for it)."""

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        Path(trainer.default_root_dir, "step.txt").write_text(str(trainer.global_step))


class RankPids(pl.Callback):
    """Each rank writes its pid to <run>/rank<N>.pid when training starts, and sleeps a little after every optimizer
    step, so a test can kill one rank in the middle of a run (test_lost_rank)."""

    def on_train_start(self, trainer, module):
        Path(trainer.default_root_dir, f"rank{trainer.global_rank}.pid").write_text(str(os.getpid()))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        import time

        time.sleep(0.2)


class HostReads(pl.Callback):
    """Records every read of a tensor's value into Python (``.item()``, ``float()``, ``bool()``, ...) during training,
    by optimizer step: on a GPU each read of a freshly computed value makes the host wait for the device. Writes
    host_reads.json into the run directory: per step, the reads, whether each read memory already read at an earlier
    step (a cached, logged value) and whether d3 code made it (test_step_syncs)."""

    NAMES = ("item", "__float__", "__int__", "__bool__", "tolist", "numpy")

    def on_train_start(self, trainer, module):
        import traceback

        self.step, self.seen, self.reads, self.originals = None, [], {}, {}
        for name in self.NAMES:
            original = self.originals[name] = getattr(torch.Tensor, name)

            def read(tensor, *args, _original=original, _name=name, **kwargs):
                if self.step is not None:
                    caller = traceback.extract_stack(limit=2)[0].filename
                    by_d3 = "d3core" in caller or "d3_arch" in caller
                    where = tensor.untyped_storage().data_ptr()
                    cached = any(where == earlier.untyped_storage().data_ptr() for earlier in self.seen)
                    self.reads.setdefault(self.step, []).append({"op": _name, "cached": cached, "by_d3": by_d3,
                                                                 "caller": caller})
                    self.seen.append(tensor)  # held, so that no later tensor can take its memory
                return _original(tensor, *args, **kwargs)

            setattr(torch.Tensor, name, read)

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.step = trainer.global_step  # reads until the next batch starts belong to this step

    def on_train_end(self, trainer, module):
        self.step = None
        for name, original in self.originals.items():
            setattr(torch.Tensor, name, original)
        Path(trainer.default_root_dir, "host_reads.json").write_text(__import__("json").dumps(self.reads))
