"""The original D3 ``SEDD`` class, as data: dataset variants, the modules each trained tower leaves unused, and the
full key layout (order, shapes, initial values) that the original code loads strictly.

The original class always builds both towers (spec §4.3, §7.1): ``scale``, ``vocab_embed``, ``sigma_map``,
``label_embed``, ``rotary_emb`` (buffer), ``blocks``, ``output_layer``, [``embed`` -- DeepSTARR only], then the
convolutional tower ``linear``, ``conv_blocks``, ``denses``, ``norms``, ``final``, [``label_emb`` -- not promoter].
The convolutional tower is hard-wired to 256 channels, 20 layers, kernel 9 and a 256-wide noise embedding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

#: persistent buffers of the original class (not parameters: not in the EMA, not in the optimizer)
BUFFERS = frozenset({"rotary_emb.inv_freq"})
#: parameters with requires_grad=False (in the optimizer's list, not in the EMA)
FROZEN = frozenset({"embed.0.W"})
#: the noise schedule's dummy parameter, last in the optimizer's list
#: (``chain(model.parameters(), noise.parameters())``)
NOISE_PARAMETER = "noise.empty"

#: modules of each trained tower (d3 ``Tran`` / ``Conv`` keep exactly these, under the same names)
TOWERS = {
    "Tran": ("vocab_embed", "sigma_map", "rotary_emb", "blocks", "output_layer"),
    "Conv": ("sigma_map", "linear", "conv_blocks", "denses", "norms", "final", "label_emb"),
}
#: what identifies a tower in the optimizer's moments (``sigma_map`` is shared and says nothing)
TOWER_EVIDENCE = {
    "Tran": ("vocab_embed", "blocks", "output_layer"),
    "Conv": ("linear", "conv_blocks", "denses", "norms", "final", "label_emb"),
}

#: the original modules each (dataset variant, trained tower) leaves unused -- dropped on import, rebuilt at their
#: initial values on export. Anything in a file that is neither here nor in the d3 network is an error.
UNUSED_MODULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("deepstarr", "Tran"): ("scale", "label_embed", "embed", "linear", "conv_blocks", "denses", "norms", "final",
                            "label_emb"),
    ("deepstarr", "Conv"): ("scale", "vocab_embed", "label_embed", "rotary_emb", "blocks", "output_layer", "embed"),
    ("mpra", "Tran"): ("scale", "label_embed", "linear", "conv_blocks", "denses", "norms", "final", "label_emb"),
    ("mpra", "Conv"): ("scale", "vocab_embed", "label_embed", "rotary_emb", "blocks", "output_layer"),
    ("promoter", "Tran"): ("scale", "label_embed", "linear", "conv_blocks", "denses", "norms", "final"),
    ("promoter", "Conv"): ("scale", "vocab_embed", "label_embed", "rotary_emb", "blocks", "output_layer"),
}

#: the original convolutional tower (hard-wired)
CONV_CHANNELS, CONV_LAYERS, CONV_KERNEL, CONV_COND = 256, 20, 9, 256
CONV_DILATIONS = [1, 1, 4, 16, 64]
#: the transformer of the published runs (the dead tower of a Conv run, when nothing says otherwise)
PAPER_TRANSFORMER = {"hidden_size": 768, "n_blocks": 12, "n_heads": 12}


@dataclass(frozen=True)
class Variant:
    """One dataset file of the original code (``transformer.py``, ``transformer_mpra.py``, ...)."""

    name: str
    num_labels: int  # input width of vocab_embed.signal_embedding
    label_mode: str  # global [B, C] or per_position [B, L, C]
    length: int
    label_classes: int  # label_embed table rows - 1 (unused LabelEmbedder)
    has_embed: bool  # the Gaussian-Fourier ``embed`` module exists in this file
    label_mlp_in: dict[str, int] | None  # label_emb first-layer input width per trained tower; None: no label_emb


VARIANTS = {
    "deepstarr": Variant("deepstarr", 2, "global", 249, 4, True, {"Tran": 2, "Conv": 2}),
    "mpra": Variant("mpra", 3, "global", 200, 3, False, {"Tran": 2, "Conv": 3}),
    "promoter": Variant("promoter", 1, "per_position", 1024, 4, False, None),
}
#: the original's ``data.train`` values -> variant
DATASET_ALIASES = {"deepstarr": "deepstarr", "mpra": "mpra", "lentimpra": "mpra", "promoter": "promoter"}
#: signal_embedding input width -> variant (when the config does not say)
VARIANT_BY_LABELS = {2: "deepstarr", 3: "mpra", 1: "promoter"}


def in_modules(key: str, modules: tuple[str, ...]) -> bool:
    """``key`` belongs to one of ``modules`` (a root parameter name, or a module prefix)."""
    return any(key == m or key.startswith(m + ".") for m in modules)


@dataclass(frozen=True)
class Entry:
    key: str
    shape: tuple[int, ...]
    init: str  # ones | zeros | uniform | normal | fourier | inv_freq
    fan_in: int = 1


def original_layout(variant: Variant, *, arch: str, hidden_size: int, n_blocks: int, n_heads: int, cond_dim: int,
                    length: int, tokens: int = 4, mlp_ratio: int = 4, with_embed: bool | None = None,
                    label_mlp_in: int | None = None) -> list[Entry]:
    """Every key of the original ``SEDD`` state dict, in order, with its shape and how the original initialises it.

    ``cond_dim`` is the original config's (the ``sigma_map`` width: 256 for Conv runs). ``with_embed`` defaults to
    the released checkpoints' choice (DeepSTARR Tran with ``embed``, Conv without).
    """
    H, C, V = hidden_size, cond_dim, tokens
    if with_embed is None:
        with_embed = variant.has_embed and arch == "Tran"
    entries: list[Entry] = [Entry("scale", (1,), "ones")]
    entries.append(Entry("vocab_embed.embedding", (V, H), "uniform", H))
    entries += [Entry("vocab_embed.signal_embedding.weight", (H, variant.num_labels), "uniform", variant.num_labels),
                Entry("vocab_embed.signal_embedding.bias", (H,), "uniform", variant.num_labels)]
    entries += [Entry("sigma_map.mlp.0.weight", (C, 256), "uniform", 256),
                Entry("sigma_map.mlp.0.bias", (C,), "uniform", 256),
                Entry("sigma_map.mlp.2.weight", (C, C), "uniform", C),
                Entry("sigma_map.mlp.2.bias", (C,), "uniform", C)]
    entries.append(Entry("label_embed.embedding_table.weight", (variant.label_classes + 1, C), "normal"))
    entries.append(Entry("rotary_emb.inv_freq", ((H // n_heads) // 2,), "inv_freq", H // n_heads))
    for i in range(n_blocks):
        b = f"blocks.{i}."
        entries += [Entry(b + "norm1.weight", (H,), "ones"),
                    Entry(b + "attn_qkv.weight", (3 * H, H), "uniform", H),
                    Entry(b + "attn_out.weight", (H, H), "uniform", H),
                    Entry(b + "norm2.weight", (H,), "ones"),
                    Entry(b + "mlp.0.weight", (mlp_ratio * H, H), "uniform", H),
                    Entry(b + "mlp.0.bias", (mlp_ratio * H,), "uniform", H),
                    Entry(b + "mlp.2.weight", (H, mlp_ratio * H), "uniform", mlp_ratio * H),
                    Entry(b + "mlp.2.bias", (H,), "uniform", mlp_ratio * H),
                    Entry(b + "adaLN_modulation.weight", (6 * H, C), "zeros"),
                    Entry(b + "adaLN_modulation.bias", (6 * H,), "zeros")]
    entries += [Entry("output_layer.norm_final.weight", (H,), "ones"),
                Entry("output_layer.linear.weight", (V, H), "zeros"),
                Entry("output_layer.linear.bias", (V,), "zeros"),
                Entry("output_layer.adaLN_modulation.weight", (2 * H, C), "zeros"),
                Entry("output_layer.adaLN_modulation.bias", (2 * H,), "zeros")]
    if with_embed:
        entries += [Entry("embed.0.W", (128,), "fourier"),
                    Entry("embed.1.weight", (256, 256), "uniform", 256), Entry("embed.1.bias", (256,), "uniform", 256)]
    n, k = CONV_CHANNELS, CONV_KERNEL
    entries += [Entry("linear.weight", (n, V + 1, k), "uniform", (V + 1) * k),
                Entry("linear.bias", (n,), "uniform", (V + 1) * k)]
    for i in range(CONV_LAYERS):
        entries += [Entry(f"conv_blocks.{i}.weight", (n, n, k), "uniform", n * k),
                    Entry(f"conv_blocks.{i}.bias", (n,), "uniform", n * k)]
    for i in range(CONV_LAYERS):
        entries += [Entry(f"denses.{i}.dense.weight", (n, CONV_COND), "uniform", CONV_COND),
                    Entry(f"denses.{i}.dense.bias", (n,), "uniform", CONV_COND)]
    for i in range(CONV_LAYERS):
        entries += [Entry(f"norms.{i}.weight", (n,), "ones"), Entry(f"norms.{i}.bias", (n,), "zeros")]
    entries += [Entry("final.0.weight", (n, n, 1), "uniform", n), Entry("final.0.bias", (n,), "uniform", n),
                Entry("final.2.weight", (V, n, 1), "uniform", n), Entry("final.2.bias", (V,), "uniform", n)]
    if variant.label_mlp_in is not None:
        width = label_mlp_in if label_mlp_in is not None else variant.label_mlp_in[arch]
        entries += [Entry("label_emb.0.weight", (length, width), "uniform", width),
                    Entry("label_emb.0.bias", (length,), "uniform", width),
                    Entry("label_emb.2.weight", (length, length), "uniform", length),
                    Entry("label_emb.2.bias", (length,), "uniform", length)]
    return entries


def initial_values(entries: list[Entry], seed: int, dtype: Any = None,
                   keys: set[str] | None = None) -> Iterator[tuple[str, Any]]:
    """``(key, tensor)`` with the original's initialisation (PyTorch defaults: Kaiming-uniform with a = sqrt(5),
    i.e. U(+-1/sqrt(fan_in)), for linear/conv weights, biases and the vocabulary embedding; N(0, 1) for the label
    table; the Fourier projection's frozen ``W = 30 N(0, 1)``; zeros where the original zero-initialises), drawn
    from one generator seeded with ``seed`` so an export is reproducible. ``keys``: only these entries."""
    import torch

    generator = torch.Generator().manual_seed(int(seed))
    dtype = dtype or torch.float32
    for entry in entries:
        if keys is not None and entry.key not in keys:
            continue
        shape = entry.shape
        if entry.init == "ones":
            value = torch.ones(shape)
        elif entry.init == "zeros":
            value = torch.zeros(shape)
        elif entry.init == "uniform":
            bound = 1.0 / math.sqrt(max(entry.fan_in, 1))
            value = (torch.rand(shape, generator=generator) * 2 - 1) * bound
        elif entry.init == "normal":
            value = torch.randn(shape, generator=generator)
        elif entry.init == "fourier":
            value = torch.randn(shape, generator=generator) * 30.0
        elif entry.init == "inv_freq":
            dim = entry.fan_in
            value = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        else:  # pragma: no cover - the layout only uses the kinds above
            raise ValueError(entry.init)
        yield entry.key, value.to(dtype)
