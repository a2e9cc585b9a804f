"""The convolutional score network of D3 ("D3-Conv", spec §4.2), with the original conv-path parameter names.

Module tree (state-dict keys)::

    sigma_map.mlp.{0,2}.{weight,bias}     TimestepEmbedder(cond_dim)
    linear.{weight,bias}                  Conv1d(V + label channels -> channels, k=9, padding 4)
    conv_blocks.N.{weight,bias}           Conv1d(channels -> channels, k=9, dilation d_N, padding 4 d_N)
    denses.N.dense.{weight,bias}          Linear(cond_dim -> channels)
    norms.N.{weight,bias}                 GroupNorm(1 group, channels)
    final.{0,2}.{weight,bias}             Conv1d(channels -> channels, 1), GELU, Conv1d(channels -> V, 1)
    label_emb.{0,2}.{weight,bias}         Linear(C -> L), SiLU, Linear(L -> L)   (global label mode only)
    null_track                            [L]   learned null label track (global mode with a null condition only)
    label_nulls_track.weight              [C, L] learned null track per label (global mode with per-label nulls only)

Input: one-hot tokens ``[B, L, V]`` plus a label track: in ``global`` mode one channel ``label_emb(labels)`` (the
trained label MLP of the original), in ``per_position`` mode the raw labels as ``C`` channels, in ``none`` mode
nothing. Residual layer N: ``out += silu(conv_N(norm_N(out + dense_N(c)[:, :, None])))``.
The original does not zero the self-logit (``zero_self_logit=False`` reproduces it).

Null condition (classifier-free guidance; built only when the run trains with label dropout): in ``global`` mode the
rows marked in ``null_mask`` get the learned ``null_track [L]`` instead of ``label_emb(labels)``; in ``per_position``
mode one more input channel is a mask (1 on null rows, whose label channels are zeroed). With per-label nulls (global
mode, ``label_nulls``: data with missing labels), a ``[B, C]`` null mask leaves single labels out:
``label_emb(labels with them 0) + sum of their learned [L] tracks`` (``LabelNulls``); rows with every label masked get
``null_track``.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from d3core.api import (D3UserError, Dense, LabelNulls, TimestepEmbedder, check_labels, check_null_mask, in_fp32,
                         split_null_mask, with_null_condition, zero_self_logit)

KERNEL_SIZE = 9
PAPER_DILATIONS = (1, 1, 4, 16, 64)


class ConvNet(nn.Module):
    """The D3 dilated residual CNN.

    ``forward(tokens [B, L] long, labels, sigma [B], null_mask=None) -> log_scores [B, L, V]`` (fp32). ``labels``
    must match the ``label_mode`` the network was built for (``[B, C]`` global, ``[B, L, C]`` per-position,
    ``None``). In global mode ``length`` fixes L (the label MLP maps C -> L). Built with ``null_condition``,
    ``null_mask [B]`` (bool) gives the marked rows the null condition instead of their labels.
    """

    def __init__(
        self,
        *,
        channels: int = 256,
        dilations: tuple[int, ...] = PAPER_DILATIONS * 4,
        cond_dim: int = 256,
        num_labels: int = 0,
        label_mode: str = "global",
        length: int | None = None,
        tokens: int = 4,
        zero_self_logit: bool = False,
        null_condition: bool = False,
        label_nulls: bool = False,
    ):
        super().__init__()
        if num_labels == 0:
            label_mode = "none"
        if label_mode == "global" and not length:
            raise ValueError("ConvNet with global labels needs the sequence length (the label MLP maps C -> L)")
        self.num_labels = num_labels
        self.label_mode = label_mode
        self.length = length
        self.vocab_size = tokens
        self.zero_self_logit = zero_self_logit
        self.null_condition = bool(null_condition and label_mode != "none")
        self.label_nulls = bool(self.null_condition and label_nulls and label_mode == "global")
        null_channel = int(self.null_condition and label_mode == "per_position")
        label_channels = {"global": 1, "per_position": num_labels + null_channel, "none": 0}[label_mode]

        self.sigma_map = TimestepEmbedder(cond_dim)
        self.linear = nn.Conv1d(tokens + label_channels, channels, KERNEL_SIZE, padding=KERNEL_SIZE // 2)
        self.conv_blocks = nn.ModuleList(
            nn.Conv1d(channels, channels, KERNEL_SIZE, dilation=d, padding=(KERNEL_SIZE // 2) * d) for d in dilations
        )
        self.denses = nn.ModuleList(Dense(cond_dim, channels) for _ in dilations)
        self.norms = nn.ModuleList(nn.GroupNorm(1, channels) for _ in dilations)
        self.final = nn.Sequential(nn.Conv1d(channels, channels, 1), nn.GELU(), nn.Conv1d(channels, tokens, 1))
        if label_mode == "global":
            self.label_emb = nn.Sequential(nn.Linear(num_labels, length), nn.SiLU(), nn.Linear(length, length))
            if self.null_condition:
                self.null_track = nn.Parameter(torch.zeros(length))
            if self.label_nulls:
                self.label_nulls_track = LabelNulls(num_labels, length)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor,
                null_mask: torch.Tensor | None = None) -> torch.Tensor:
        mode = check_labels(labels, tokens, self.num_labels, (self.label_mode,), arch="Conv")
        null_mask = check_null_mask(null_mask, tokens, self.null_condition, arch="Conv", num_labels=self.num_labels,
                                    label_nulls=self.label_nulls)
        rows, single = split_null_mask(null_mask)
        dtype = self.linear.weight.dtype
        x = F.one_hot(tokens, self.vocab_size).to(dtype)
        if mode == "global":
            if tokens.shape[1] != self.length:
                raise D3UserError(
                    f"Conv with global labels was built for model.length={self.length} but got sequences of length "
                    f"{tokens.shape[1]}; set model.length to the dataset's sequence length"
                )
            embed = functools.partial(in_fp32, self.label_emb)  # fp32 under bf16-mixed, as the original
            track = (self.label_nulls_track(embed, labels, single) if self.label_nulls else embed(labels)).to(dtype)
            if self.null_condition:
                track = with_null_condition(track, rows, self.null_track)
            x = torch.cat([x, track[..., None]], dim=-1)
        elif mode == "per_position":
            channels = labels.to(dtype)
            if self.null_condition:
                is_null = torch.zeros(tokens.shape[0], dtype=torch.bool, device=tokens.device) if rows is None \
                    else rows
                channels = with_null_condition(channels, is_null, torch.zeros((), dtype=dtype, device=x.device))
                channels = torch.cat([channels, is_null.to(dtype)[:, None, None].expand(*tokens.shape, 1)], dim=-1)
            x = torch.cat([x, channels], dim=-1)
        out = F.silu(self.linear(x.transpose(1, 2)))

        c = F.silu(self.sigma_map(sigma.reshape(-1)))
        for conv, dense, norm in zip(self.conv_blocks, self.denses, self.norms):
            out = out + F.silu(conv(norm(out + dense(c)[:, :, None])))

        log_scores = self.final(out).transpose(1, 2).float()
        if self.zero_self_logit:
            log_scores = zero_self_logit(log_scores, tokens)
        return log_scores
