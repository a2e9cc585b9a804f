"""``D3LightningModule``: the SEDD objective, AdamW with linear warm-up, EMA, and what goes into checkpoints."""
from __future__ import annotations

import functools
import random
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

# the checkpoint keys d3 writes next to Lightning's own live with the lightning format (importable without Lightning)
from d3core.architecture import wants_label_nulls, wants_null_condition
from d3core.builtin.checkpoint_lightning import CONFIG_KEY, EMA_KEY, RNG_KEY, VERSIONS_KEY
from d3core.checkpoints.models import build_diffusion
from d3core.checkpoints.optimizer import adamw_kernels, build_optimizer, warmup_factor, with_kernels
from d3core.diffusion import TRAIN_EPS, ExponentialMovingAverage, sedd_loss
from d3core.nn.labels import missing_label_mask
from d3core.training.compile import compiled_network

#: offset of the seed of the fixed validation draws (t and corruption), so they differ from the training stream
VALIDATION_SEED_OFFSET = 7919


def stratified_times(batch_size: int, *, generator: torch.Generator, eps: float = TRAIN_EPS) -> torch.Tensor:
    """``[B]`` times covering [eps, 1] in B equal strata (one draw each, shuffled over the rows).

    The batch mean stays an unbiased estimate of the expected loss over t ~ U[eps, 1], with far less variance than
    independent draws (the loss weight sigma'(t) spans 1e-3 ... 244), so validation losses compare like with like.
    """
    device = generator.device
    offset = torch.rand(1, generator=generator, device=device)
    strata = (torch.arange(batch_size, device=device) + offset) / batch_size
    order = torch.randperm(batch_size, generator=generator, device=device)
    return eps + (1 - eps) * strata[order]


class D3LightningModule(pl.LightningModule):
    """Trains a score network with the SEDD loss.

    Args:
        config: the resolved run config (``d3core.config.assemble_config``).
        network: the score network ``model(tokens [B, L], labels, sigma [B]) -> log_scores [B, L, V]``.
        versions: ``{distribution: version}`` of the plugins used, stored in checkpoints.
        compile_network: run the training forward through ``torch.compile`` (:mod:`d3core.training.compile`;
            validation and checkpoints use ``network`` itself, so no ``_orig_mod.`` names and no recompilation).

    Label dropout (``training.label_dropout`` = p > 0, classifier-free guidance): each training row gets the network's
    learned null condition instead of its labels with probability p (a draw from torch's global generator, so resumed
    runs draw what the uninterrupted run would have); p = 0 draws nothing and trains exactly as the original D3.

    Missing labels (``model.label_nulls``, set when the data has NaN labels): a NaN label takes its learned per-label
    null (``null_mask [B, C]``), so a row conditions on what was measured; a row with every label missing trains the
    unconditional path. Label dropout then also drops each label of each row with probability p (a second draw, after
    the row draw). Validation uses the measured labels (missing ones masked, nothing dropped).

    Logged: ``train_loss`` (mean per-sequence loss in nats, per step), ``val_loss`` (EMA weights, fixed stratified draws) and
    ``lr``. Checkpoints carry the config (``d3_config``), the EMA by parameter name (``d3_ema``) and the torch/python
    RNG states (``d3_rng``) besides Lightning's own state.
    """

    def __init__(self, config: DictConfig, network: torch.nn.Module, versions: dict[str, str] | None = None, *,
                 compile_network: bool = False):
        super().__init__()
        self.config = config
        self.model = network
        self.graph, self.noise = build_diffusion(config)
        self.ema = ExponentialMovingAverage(self.model, decay=float(config.training.ema))
        self.versions = dict(versions or {})
        self._pending_rng: dict[str, Any] | None = None
        self.compile_network = bool(compile_network)
        self._compiled: torch.nn.Module | None = None  # set outside nn.Module's registry: no state-dict entries

    # -- forward and losses -----------------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor) -> torch.Tensor:
        return self.model(tokens, labels, sigma)

    def _labels(self, labels: torch.Tensor) -> torch.Tensor | None:
        return None if self.config.model.label_mode == "none" else labels.float()

    def _training_network(self):
        """The network the training forward calls: ``torch.compile(self.model)`` (built at the first step) with
        ``compile_network``, else the model itself."""
        if not self.compile_network:
            return self.model
        if self._compiled is None:
            object.__setattr__(self, "_compiled", compiled_network(self.model))
        return self._compiled

    def _with_label_dropout(self, tokens: torch.Tensor, missing: torch.Tensor | None = None):
        """The network to train on this batch: with label dropout, rows drawn with probability p get the null
        condition (``null_mask [B]``); with per-label nulls, the missing labels (``missing [B, C]``) and labels drawn
        with probability p too (``null_mask [B, C]``)."""
        network = self._training_network()
        if not wants_null_condition(self.config):
            return network
        p = float(self.config.training.label_dropout)
        drop = torch.rand(tokens.shape[0], device=tokens.device) < p
        if not wants_label_nulls(self.config):
            return functools.partial(network, null_mask=drop)
        mask = drop[:, None].expand(-1, int(self.config.model.num_labels))
        if p > 0:
            mask = mask | (torch.rand(mask.shape, device=tokens.device) < p)
        if missing is not None:
            mask = mask | missing
        return functools.partial(network, null_mask=mask)

    def _measured(self, labels: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(labels for the network, missing [B, C] | None)``: with per-label nulls, NaN labels (not measured) as 0
        with their mask; otherwise the labels as they are (validation refuses NaN in files without missing labels)."""
        labels = self._labels(labels)
        if labels is None or not wants_label_nulls(self.config):
            return labels, None
        return missing_label_mask(labels)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        tokens, labels = batch
        labels, missing = self._measured(labels)
        network = self._with_label_dropout(tokens, missing)
        loss = sedd_loss(network, self.graph, self.noise, tokens, labels).mean()
        if self._logs_this_step():  # host copies: Lightning reads the last logged values back after every batch
            lr = torch.tensor(float(self.optimizers().param_groups[0]["lr"]))
            self.log("train_loss", loss.detach().cpu(), prog_bar=True, batch_size=tokens.shape[0])
            self.log("lr", lr, prog_bar=False, batch_size=tokens.shape[0])
        return loss

    def _logs_this_step(self) -> bool:
        """Whether this step logs ``train_loss`` and ``lr``: the steps whose metrics Lightning hands to the loggers
        (every ``log_every_n_steps``), the last step and fast dev runs. Lightning turns the logged progress-bar
        values into numbers after every batch: logged on the host, only at these steps, they never make the host
        wait for the device in between."""
        if self._trainer is None:  # a step called by hand (tests, notebooks): log as Lightning would
            return True
        trainer = self.trainer
        last = trainer.max_steps > 0 and trainer.global_step + 1 >= trainer.max_steps
        return bool(trainer.fast_dev_run) or last or trainer._logger_connector.should_update_logs

    def validation_step(self, batch, batch_idx: int) -> torch.Tensor:
        tokens, labels = batch
        generator = torch.Generator(device=tokens.device)
        generator.manual_seed(int(self.config.seed) + VALIDATION_SEED_OFFSET + batch_idx)
        t = stratified_times(tokens.shape[0], generator=generator)
        labels, missing = self._measured(labels)
        network = self.model if missing is None else functools.partial(self.model, null_mask=missing)
        loss = sedd_loss(network, self.graph, self.noise, tokens, labels, t=t, generator=generator).mean()
        self.log("val_loss", loss, prog_bar=True, sync_dist=True, batch_size=tokens.shape[0])
        return loss

    # -- optimisation -----------------------------------------------------------------------------------------------
    def _kernels(self) -> dict[str, bool]:
        """torch's fastest AdamW step for the trainer's device and precision (fused, else foreach)."""
        return adamw_kernels(self.trainer.strategy.root_device.type, precision=str(self.trainer.precision),
                             grad_clip=float(self.config.optim.grad_clip))

    def configure_optimizers(self):
        optimizer = build_optimizer(self.model.parameters(), self.config.optim, kernels=self._kernels())
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(int(self.config.optim.warmup)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # the EMA follows optimizer steps, not micro-batches: update only when this batch stepped
        accum = int(self.config.training.accum)
        if (batch_idx + 1) % accum == 0 or self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.ema.update(self.model)

    # -- EMA weights for validation ---------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self.ema.to(device=self.device)
        self.ema.store(self.model)
        self.ema.copy_to(self.model)

    def on_validation_epoch_end(self) -> None:
        self.ema.restore(self.model)

    # -- checkpoints ------------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = OmegaConf.to_container(self.config, resolve=True)
        if "optimizer_states" in checkpoint:  # written as torch's default AdamW writes it, whatever this machine ran
            checkpoint["optimizer_states"] = [with_kernels(s, {}) for s in checkpoint["optimizer_states"]]
        checkpoint[EMA_KEY] = self.ema.state_dict()
        checkpoint[VERSIONS_KEY] = dict(self.versions)
        version, state, gauss = random.getstate()
        checkpoint[RNG_KEY] = {"torch": torch.get_rng_state(), "python": [version, list(state), gauss]}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "optimizer_states" in checkpoint and self._trainer is not None:  # loaded into this run's fused/foreach
            checkpoint["optimizer_states"] = [with_kernels(s, self._kernels()) for s in checkpoint["optimizer_states"]]
        if EMA_KEY in checkpoint:
            self.ema.load_state_dict(checkpoint[EMA_KEY])
        self._pending_rng = checkpoint.get(RNG_KEY)

    def on_train_start(self) -> None:
        # restore the RNG streams last, so that the resumed run draws what the uninterrupted one would have drawn
        if self._pending_rng is not None:
            torch.set_rng_state(self._pending_rng["torch"].cpu())
            version, state, gauss = self._pending_rng["python"]
            random.setstate((version, tuple(state), gauss))
            self._pending_rng = None
