"""Network sizes read from a d3-dna state dict's tensor names and shapes, and checked against a config.

What the tensors fix: the tower; ``tokens`` (rows of the token embedding / output channels); ``cond_dim``; for the
transformer ``hidden_size``, ``n_blocks``, ``n_heads`` (= hidden / (2 x ``rotary_emb.inv_freq`` entries)), the label
count (``signal_embedding`` columns) and the unused label table's rows; for the CNN ``channels``. What they do not
fix: the sequence length, the dataset, the noise schedule and the transformer's dropout -- those come from the file's
embedded config, else from a d3-dna config YAML the user gives (``--legacy_config``).
"""
from __future__ import annotations

from typing import Any

from d3core.api import D3UserError

from d3_ckpt_d3dna.config import TRAN


def _dim(state: dict, key: str, axis: int, where: str) -> int:
    tensor = state.get(key)
    if tensor is None or not hasattr(tensor, "shape") or tensor.dim() <= axis:
        raise D3UserError(f"{where}: tensor {key!r} is missing or has the wrong rank; the file is damaged")
    return int(tensor.shape[axis])


def sizes_from_weights(arch: str, state: dict[str, Any], where: str) -> dict[str, Any]:
    """The d3 ``model.*`` sizes (and ``tokens``) that the tensors of ``state`` fix."""
    sizes = {"cond_dim": _dim(state, "sigma_map.mlp.0.weight", 0, where)}
    if arch == TRAN:
        hidden = _dim(state, "vocab_embed.embedding", 1, where)
        half_head = _dim(state, "rotary_emb.inv_freq", 0, where)
        if not half_head or hidden % (2 * half_head):
            raise D3UserError(f"{where}: rotary_emb.inv_freq has {half_head} entries, which do not divide the hidden "
                              f"size {hidden}; the file is damaged")
        rows = _dim(state, "label_embed.embedding_table.weight", 0, where)
        sizes.update(tokens=_dim(state, "vocab_embed.embedding", 0, where), hidden_size=hidden,
                     n_blocks=len({k.split(".")[1] for k in state if k.startswith("blocks.")}),
                     n_heads=hidden // (2 * half_head),
                     num_labels=_dim(state, "vocab_embed.signal_embedding.weight", 1, where),
                     # d3-dna's datasets have 4 letters; a 5th row is the table's classifier-free-guidance entry
                     num_classes=min(rows, 4), class_dropout_prob=0.1 if rows > 4 else 0.0)
    else:
        sizes.update(tokens=_dim(state, "final.2.weight", 0, where), channels=_dim(state, "linear.weight", 0, where))
    return sizes


def check_sizes(config_model: dict[str, Any], tokens: int, found: dict[str, Any], where: str) -> None:
    """Refuse a config whose sizes disagree with the tensors (a wrong ``--legacy_config``, or a damaged file)."""
    given = {**config_model, "tokens": tokens}
    for key, value in found.items():
        if key in ("num_classes", "class_dropout_prob"):
            continue
        if key == "num_labels" and given.get("label_mode") == "none":
            continue
        if key in given and given[key] != value:
            raise D3UserError(f"{where}: the config says model.{key}={given[key]} but the weights have {value}")
