"""A user callback (``--callback ddp_probe:SaveRankWeights``) used by test_ddp: each rank saves its weights."""
import os

import pytorch_lightning as pl
import torch


class SaveRankWeights(pl.Callback):
    def on_train_end(self, trainer, module):
        state = {k: v.detach().cpu() for k, v in module.state_dict().items() if k.startswith("model.")}
        torch.save(state, os.path.join(trainer.default_root_dir, f"rank{trainer.global_rank}.pt"))
