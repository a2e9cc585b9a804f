"""The DDiT score network of D3 ("D3-Tran", spec §4.1), with the original transformer-path parameter names.

Module tree (and therefore state-dict keys) -- identical to the transformer path of the original ``SEDD`` class minus
its never-used members (``scale``, ``label_embed``, ``embed``, the convolutional tower)::

    vocab_embed.embedding                      [V, H]
    vocab_embed.signal_embedding.{weight,bias} [H, C], [H]      (absent when num_labels == 0)
    vocab_embed.null_embedding                 [H]              (only with a null condition: label dropout)
    vocab_embed.label_nulls.weight             [C, H]           (only with per-label nulls: missing labels)
    sigma_map.mlp.{0,2}.{weight,bias}          Linear(256 -> cond), Linear(cond -> cond)
    rotary_emb.inv_freq                        [head_dim / 2]   (persistent buffer)
    blocks.N.{norm1.weight, attn_qkv.weight, attn_out.weight, norm2.weight,
              mlp.0.{weight,bias}, mlp.2.{weight,bias}, adaLN_modulation.{weight,bias}}
    output_layer.{norm_final.weight, linear.{weight,bias}, adaLN_modulation.{weight,bias}}
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from d3core.api import (LabelNulls, LayerNorm, Rotary, TanhGELU, TimestepEmbedder, apply_rotary, check_labels,
                         check_null_mask, in_fp32, split_null_mask, with_null_condition, zero_self_logit)


class EmbeddingLayer(nn.Module):
    """Token embedding plus linear label embedding: ``h0 = E[x] + W_y y + b_y`` (fp32).

    Global labels ``[B, C]`` are broadcast over positions; per-position labels ``[B, L, C]`` are added position-wise.
    With a null condition, the rows marked in ``null_mask`` get the learned ``null_embedding [H]`` (zero-initialised)
    instead of ``W_y y + b_y`` (at every position). With per-label nulls (``label_nulls``), a ``[B, C]`` null mask
    leaves single labels out: ``W_y (y with them 0) + b_y + sum of their learned [H] vectors`` (``LabelNulls``); rows
    with every label masked get ``null_embedding``.
    """

    def __init__(self, hidden_size: int, vocab_size: int, num_labels: int, null_condition: bool = False,
                 label_nulls: bool = False):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(vocab_size, hidden_size))
        nn.init.kaiming_uniform_(self.embedding, a=math.sqrt(5))
        self.signal_embedding = nn.Linear(num_labels, hidden_size) if num_labels > 0 else None
        self.null_embedding = nn.Parameter(torch.zeros(hidden_size)) if null_condition and num_labels > 0 else None
        self.label_nulls = LabelNulls(num_labels, hidden_size) if self.null_embedding is not None and label_nulls \
            else None

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None,
                null_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embedding[tokens]
        if self.signal_embedding is not None:
            rows, single = split_null_mask(null_mask)
            embed = functools.partial(in_fp32, self.signal_embedding)  # fp32 under bf16-mixed, as the original
            signal = embed(labels) if self.label_nulls is None else self.label_nulls(embed, labels, single)
            if self.null_embedding is not None:
                signal = with_null_condition(signal, rows, self.null_embedding)
            h = h + (signal[:, None, :] if signal.dim() == 2 else signal)
        return h


class DDiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-Zero modulation from the noise conditioning ``c`` (spec §4.1 step 4)."""

    def __init__(self, dim: int, n_heads: int, cond_dim: int, mlp_ratio: int = 4, dropout: float = 0.1):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim, bias=True),
            TanhGELU(),
            nn.Linear(mlp_ratio * dim, dim, bias=True),
        )
        self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim, bias=True)
        nn.init.zeros_(self.adaLN_modulation.weight)
        nn.init.zeros_(self.adaLN_modulation.bias)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``x [B, L, H]``, ``cos``/``sin`` ``[L, head_dim]``, ``c [B, cond]`` -> ``[B, L, H]``."""
        batch, length, dim = x.shape
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (
            self.adaLN_modulation(c)[:, None].chunk(6, dim=2)
        )

        # attention: packed qkv [B, L, 3, heads, head_dim], rotary on q and k (at once), full non-causal softmax
        qkv = self.attn_qkv(self.norm1.modulated(x, shift_msa, scale_msa))
        qkv = qkv.view(batch, length, 3, self.n_heads, dim // self.n_heads)
        q, k = apply_rotary(qkv[:, :, :2], cos[None, :, None, None, :], sin[None, :, None, None, :]).unbind(dim=2)
        v = qkv[:, :, 2]
        attn = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        attn = attn.transpose(1, 2).reshape(batch, length, dim)
        x = torch.addcmul(x, gate_msa, F.dropout(self.attn_out(attn), self.dropout, self.training))

        # MLP
        h = self.mlp(self.norm2.modulated(x, shift_mlp, scale_mlp))
        return torch.addcmul(x, gate_mlp, F.dropout(h, self.dropout, self.training))


class DDiTFinalLayer(nn.Module):
    """adaLN-modulated norm and a zero-initialised linear head ``H -> V`` (spec §4.1 step 5)."""

    def __init__(self, hidden_size: int, out_channels: int, cond_dim: int):
        super().__init__()
        self.norm_final = LayerNorm(hidden_size)
        self.linear = nn.Linear(hidden_size, out_channels)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.adaLN_modulation = nn.Linear(cond_dim, 2 * hidden_size, bias=True)
        nn.init.zeros_(self.adaLN_modulation.weight)
        nn.init.zeros_(self.adaLN_modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c)[:, None].chunk(2, dim=2)
        return self.linear(self.norm_final.modulated(x, shift, scale))


class DDiT(nn.Module):
    """The D3 transformer score network.

    ``forward(tokens [B, L] long, labels [B, C] | [B, L, C] | None, sigma [B], null_mask=None) -> log_scores
    [B, L, V]`` (fp32), with ``log_scores[b, i, tokens[b, i]] == 0``. At initialisation the output is exactly 0
    everywhere. Built with ``null_condition``, ``null_mask [B]`` (bool) gives the marked rows the learned null
    condition instead of their labels (classifier-free guidance); built with ``label_nulls`` too, ``null_mask [B, C]``
    gives single labels their learned per-label null (missing labels, conditioning on a subset of the labels).
    """

    label_modes = ("global", "per_position", "none")

    def __init__(
        self,
        *,
        hidden_size: int,
        n_blocks: int,
        n_heads: int,
        cond_dim: int,
        num_labels: int,
        tokens: int = 4,
        dropout: float = 0.1,
        mlp_ratio: int = 4,
        null_condition: bool = False,
        label_nulls: bool = False,
    ):
        super().__init__()
        self.num_labels = num_labels
        self.vocab_size = tokens
        self.null_condition = bool(null_condition and num_labels > 0)
        self.label_nulls = bool(self.null_condition and label_nulls)
        self.vocab_embed = EmbeddingLayer(hidden_size, tokens, num_labels, self.null_condition, self.label_nulls)
        self.sigma_map = TimestepEmbedder(cond_dim)
        self.rotary_emb = Rotary(hidden_size // n_heads)
        self.blocks = nn.ModuleList(
            DDiTBlock(hidden_size, n_heads, cond_dim, mlp_ratio=mlp_ratio, dropout=dropout) for _ in range(n_blocks)
        )
        self.output_layer = DDiTFinalLayer(hidden_size, tokens, cond_dim)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor,
                null_mask: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(labels, tokens, self.num_labels, self.label_modes, arch="Tran")
        null_mask = check_null_mask(null_mask, tokens, self.null_condition, arch="Tran", num_labels=self.num_labels,
                                    label_nulls=self.label_nulls)
        x = self.vocab_embed(tokens, labels, null_mask)
        c = F.silu(self.sigma_map(sigma.reshape(-1)))
        cos, sin = self.rotary_emb(tokens.shape[1], device=x.device)
        for block in self.blocks:
            x = block(x, cos, sin, c)
        x = self.output_layer(x, c).float()
        return zero_self_logit(x, tokens)
