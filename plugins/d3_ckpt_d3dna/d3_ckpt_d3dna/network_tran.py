"""d3-dna's transformer score network (``d3_dna.models.TransformerModel``, d3-dna 0.1.3), as d3-dna computes it.

Not d3's ``Tran``: the module tree (and so the state-dict keys of d3-dna's files, ``score_model.`` stripped) keeps
d3-dna's never-used ``label_embed`` table, and ``labels=None`` is a valid input even for a conditional model (no
label term at all, where d3's ``Tran`` would refuse it)::

    vocab_embed.embedding                      [V, H]
    vocab_embed.signal_embedding.{weight,bias} [H, C], [H]     (C = cfg.dataset.signal_dim, always built)
    sigma_map.mlp.{0,2}.{weight,bias}          Linear(256 -> cond), Linear(cond -> cond)
    label_embed.embedding_table.weight         [num_classes + (class_dropout_prob > 0), cond]   (unused)
    rotary_emb.inv_freq                        [head_dim / 2]  (buffer)
    blocks.N.{norm1.weight, attn_qkv.weight, attn_out.weight, norm2.weight,
              mlp.0.{weight,bias}, mlp.2.{weight,bias}, adaLN_modulation.{weight,bias}}
    output_layer.{norm_final.weight, linear.{weight,bias}, adaLN_modulation.{weight,bias}}

Forward (eval and training, as d3-dna): ``h0 = E[x] + (W_y y + b_y)`` broadcast over positions (``y [B, C]``) or
position-wise (``y [B, L, C]``), nothing when ``y`` is None; ``c = silu(sigma_map(sigma))``; blocks with adaLN
modulation, rotary on q and k, attention dropout and residual dropout ``p = dropout`` in training; the final layer;
the log-score of each position's current token set to 0.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from d3core.api import D3UserError, LayerNorm, Rotary, TanhGELU, TimestepEmbedder, apply_rotary, zero_self_logit


class SignalEmbedding(nn.Module):
    """``vocab_embed``: token embedding ``[V, H]`` plus the linear label embedding ``Linear(C -> H)``."""

    def __init__(self, hidden_size: int, vocab_size: int, num_labels: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(vocab_size, hidden_size))
        nn.init.kaiming_uniform_(self.embedding, a=math.sqrt(5))
        self.signal_embedding = nn.Linear(num_labels, hidden_size)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``tokens [B, L]``, ``labels [B, C] | [B, L, C] | None`` -> ``[B, L, H]``."""
        h = self.embedding[tokens]
        if labels is None:
            return h
        signal = self.signal_embedding(labels.to(torch.float32))
        return h + (signal[:, None, :] if signal.dim() == 2 else signal)


class LabelTable(nn.Module):
    """d3-dna's ``LabelEmbedder``: a class table that its transformer builds and never calls (kept for the keys)."""

    def __init__(self, num_classes: int, cond_dim: int, dropout_prob: float):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + int(dropout_prob > 0), cond_dim)


class Block(nn.Module):
    """DDiT block: adaLN-modulated attention and MLP, each gated and residual (dropout ``p`` in training)."""

    def __init__(self, dim: int, n_heads: int, cond_dim: int, dropout: float, mlp_ratio: int = 4):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), TanhGELU(), nn.Linear(mlp_ratio * dim, dim))
        self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim)
        nn.init.zeros_(self.adaLN_modulation.weight)
        nn.init.zeros_(self.adaLN_modulation.bias)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``x [B, L, H]``, ``cos``/``sin`` ``[L, head_dim]``, ``c [B, cond]`` -> ``[B, L, H]``."""
        batch, length, dim = x.shape
        p = self.dropout if self.training else 0.0
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c)[:, None].chunk(6, dim=2)
        qkv = self.attn_qkv(self.norm1.modulated(x, shift1, scale1))
        qkv = qkv.view(batch, length, 3, self.n_heads, dim // self.n_heads)
        q, k = apply_rotary(qkv[:, :, :2], cos[None, :, None, None, :], sin[None, :, None, None, :]).unbind(dim=2)
        v = qkv[:, :, 2]
        attn = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), dropout_p=p)
        attn = attn.transpose(1, 2).reshape(batch, length, dim)
        x = x + gate1 * F.dropout(self.attn_out(attn), p, self.training)
        return x + gate2 * F.dropout(self.mlp(self.norm2.modulated(x, shift2, scale2)), p, self.training)


class FinalLayer(nn.Module):
    """adaLN-modulated norm and the linear head ``H -> V``."""

    def __init__(self, hidden_size: int, out_channels: int, cond_dim: int):
        super().__init__()
        self.norm_final = LayerNorm(hidden_size)
        self.linear = nn.Linear(hidden_size, out_channels)
        self.adaLN_modulation = nn.Linear(cond_dim, 2 * hidden_size)
        for layer in (self.linear, self.adaLN_modulation):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c)[:, None].chunk(2, dim=2)
        return self.linear(self.norm_final.modulated(x, shift, scale))


class D3dnaTransformer(nn.Module):
    """``forward(tokens [B, L] long, labels [B, C] | [B, L, C] | None, sigma [B]) -> log_scores [B, L, V]`` (fp32)."""

    def __init__(self, *, hidden_size: int, n_blocks: int, n_heads: int, cond_dim: int, num_labels: int,
                 tokens: int = 4, num_classes: int = 4, class_dropout_prob: float = 0.1, dropout: float = 0.1):
        super().__init__()
        self.num_labels, self.vocab_size = num_labels, tokens
        self.vocab_embed = SignalEmbedding(hidden_size, tokens, num_labels)
        self.sigma_map = TimestepEmbedder(cond_dim)
        self.label_embed = LabelTable(num_classes, cond_dim, class_dropout_prob)
        self.rotary_emb = Rotary(hidden_size // n_heads)
        self.blocks = nn.ModuleList(Block(hidden_size, n_heads, cond_dim, dropout) for _ in range(n_blocks))
        self.output_layer = FinalLayer(hidden_size, tokens, cond_dim)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor) -> torch.Tensor:
        if labels is not None and labels.shape[-1] != self.num_labels:
            raise D3UserError(f"d3dna-Tran was built for {self.num_labels} label(s) per sequence; got labels of "
                              f"shape {tuple(labels.shape)}")
        x = self.vocab_embed(tokens, labels)
        c = F.silu(self.sigma_map(sigma.reshape(-1)))
        cos, sin = self.rotary_emb(tokens.shape[1], device=x.device)
        for block in self.blocks:
            x = block(x, cos, sin, c)
        return zero_self_logit(self.output_layer(x, c).float(), tokens)
