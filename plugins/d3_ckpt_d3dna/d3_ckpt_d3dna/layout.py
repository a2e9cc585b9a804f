"""What a d3-dna file holds, recognised by content (never by its name or extension).

Two layouts (d3-dna 0.1.3):

- **Lightning** ``.ckpt`` (``D3Trainer``): ``state_dict`` with ``score_model.<name>`` for every parameter and buffer of
  the score network plus three EMA entries -- ``ema.decay`` (float), ``ema.num_updates`` (int) and
  ``ema.shadow_params`` (a *list* of tensors, in the order of the network's trainable parameters) --,
  ``hyper_parameters = {'cfg': DictConfig, 'dataset_name': ...}``, ``optimizer_states`` (AdamW over all network
  parameters in ``parameters()`` order), ``lr_schedulers``, ``global_step``, ``epoch``, ``loops``, ``callbacks``;
- **SEDD** ``.pth`` (the original SEDD ``save_checkpoint`` layout, as d3-dna's legacy loop writes it):
  ``{'model': state_dict, 'ema': {'decay', 'num_updates', 'shadow_params': list}, 'optimizer': AdamW state,
  'step': int}`` and no config. ``model`` keys may carry DDP's ``module.`` prefix.

The network keys are exactly one of d3-dna's towers (:data:`TOWER_MARKERS`), which tells these files from the
original D3 code's ``.pth`` (its ``SEDD`` class holds both towers: the ``legacy`` format's files).
"""
from __future__ import annotations

from typing import Any

from d3_ckpt_d3dna.config import CONV, TRAN

SCORE_PREFIX = "score_model."
EMA_PREFIX = "ema."
EMA_ENTRIES = ("decay", "num_updates", "shadow_params")
LIGHTNING, SEDD = "lightning", "sedd"
#: keys that each d3-dna tower has and the other lacks
TOWER_MARKERS = {
    TRAN: ("vocab_embed.embedding", "output_layer.linear.weight"),
    CONV: ("linear.weight", "final.2.weight", "conv_blocks.0.weight"),
}
#: the top-level modules of each d3-dna network: a file with any other (the original SEDD class's ``scale`` or
#: ``embed`` beside a transformer, its dead tower beside either) is not d3-dna's
TOWER_MODULES = {
    TRAN: {"vocab_embed", "sigma_map", "label_embed", "rotary_emb", "blocks", "output_layer"},
    CONV: {"sigma_map", "embed", "linear", "conv_blocks", "denses", "norms", "scale", "final"},
}


def tower_of(keys: Any) -> str | None:
    """``d3dna-Tran`` / ``d3dna-Conv`` when the network keys are exactly one d3-dna network's modules (its marker
    keys present, no module it lacks), else None."""
    keys = {k for k in keys if isinstance(k, str)}
    modules = {k.split(".", 1)[0] for k in keys}
    for arch, markers in TOWER_MARKERS.items():
        if all(k in keys for k in markers) and modules <= TOWER_MODULES[arch]:
            return arch
    return None


def _strip(keys: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in keys.items() if isinstance(k, str) and k.startswith(prefix)}


def network_state(content: Any) -> tuple[str, dict[str, Any]] | None:
    """``(layout, network state dict without prefixes)`` of a d3-dna file's content, or None when it is not one."""
    if not isinstance(content, dict):
        return None
    state = content.get("state_dict")
    if isinstance(state, dict) and "pytorch-lightning_version" in content:
        model = _strip(state, SCORE_PREFIX)
        return (LIGHTNING, model) if model and tower_of(model) else None
    if {"model", "ema", "step"} <= set(content) and isinstance(content["model"], dict):
        model = content["model"]
        if model and all(isinstance(k, str) and k.startswith("module.") for k in model):
            model = _strip(model, "module.")
        return (SEDD, dict(model)) if tower_of(model) else None
    return None


def ema_entries(content: dict, layout: str) -> dict[str, Any] | None:
    """``{'decay', 'num_updates', 'shadow_params'}`` as the file stores them (None when it has no EMA)."""
    if layout == LIGHTNING:
        ema = {key: content["state_dict"][EMA_PREFIX + key] for key in EMA_ENTRIES
               if EMA_PREFIX + key in content["state_dict"]}
    else:
        ema = content.get("ema") if isinstance(content.get("ema"), dict) else {}
    return ema if ema.get("shadow_params") is not None else None


def optimizer_state(content: dict, layout: str) -> dict[str, Any] | None:
    """The AdamW state dict (indexed by parameter position), or None."""
    if layout == LIGHTNING:
        states = content.get("optimizer_states") or []
        return states[0] if states and isinstance(states[0], dict) else None
    optimizer = content.get("optimizer")
    return optimizer if isinstance(optimizer, dict) else None


def step_of(content: dict, layout: str) -> int:
    return int(content.get("global_step" if layout == LIGHTNING else "step") or 0)
