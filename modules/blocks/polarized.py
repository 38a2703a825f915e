"""Polarized Self-Attention: a channel-only and a spatial-only branch, in parallel (``psa``) or in sequence.

Liu, Xu, Wang, Hu, Ding, Wu: "Polarized Self-Attention: Towards High-quality Pixel-wise Regression", 2021.
https://arxiv.org/abs/2107.00782
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


class ChannelOnly(nn.Module):
    """A^ch = σ(LN(W_z(W_v(X) × softmax(W_q(X))))): one weight per channel, from a softmax-weighted pool over H×W.

    W_v is applied after the pool, not before: both are linear and the softmax weights sum to 1, so it is the same
    value without a (C/2)×H×W intermediate. W_q has no bias, which a softmax over positions would cancel.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.wq = nn.Conv2d(channels, 1, 1, bias=False)
        self.wv = nn.Conv2d(channels, hidden, 1)
        self.wz = nn.Conv2d(hidden, channels, 1)
        self.ln = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = torch.softmax(self.wq(x).flatten(2), -1)  # (B, 1, HW)
        pooled = (x.flatten(2) @ q.transpose(1, 2)).unsqueeze(-1)  # (B, C, 1, 1)
        z = self.wz(self.wv(pooled)).flatten(1)
        return torch.sigmoid(self.ln(z))[..., None, None]


class SpatialOnly(nn.Module):
    """A^sp = σ(softmax(GAP(W_q(X))) × W_v(X)): one weight per position, from a softmax over C/2 channels.

    W_q is applied after the pool (the same value: both are linear), not on the full map.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.wq = nn.Conv2d(channels, hidden, 1)
        self.wv = nn.Conv2d(channels, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = torch.softmax(self.wq(x.mean((2, 3), keepdim=True)).flatten(1), -1).unsqueeze(1)  # (B, 1, C/2)
        return torch.sigmoid(q @ self.wv(x).flatten(2)).view(x.shape[0], 1, *x.shape[2:])


@register("psa", "psa_p")
class PolarizedSelfAttention(nn.Module):
    """Parallel layout: y = x·A^ch(x) + x·A^sp(x) (what the articles call PSA; not YOLOv10's ``yolo_psa``).

    Args:
        channels: input channels C.
        reduction: the internal width is ``max(C // reduction, 1)`` (paper: C/2); any C works.

    Deviations from the article (none in value): the 1×1 projections that commute with a pool are applied after it,
    and the channel query has no bias (a softmax over positions cancels it, so it never gets a gradient).
    """

    def __init__(self, channels: int, reduction: int = 2) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.channel_only = ChannelOnly(channels, hidden)
        self.spatial_only = SpatialOnly(channels, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.channel_only(x) + x * self.spatial_only(x)


@register("psa_seq", "psa_s")
class SequentialPolarizedSelfAttention(PolarizedSelfAttention):
    """Sequential layout: y = z·A^sp(z) with z = x·A^ch(x); arguments as ``PolarizedSelfAttention``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel_only(x)
        return x * self.spatial_only(x)
