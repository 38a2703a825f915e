"""CBAM: Convolutional Block Attention Module, channel attention then spatial attention.

Woo, Park, Lee, Kweon: "CBAM: Convolutional Block Attention Module", ECCV 2018. https://arxiv.org/abs/1807.06521
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


class ChannelAttention(nn.Module):
    """σ(MLP(AvgPool(x)) + MLP(MaxPool(x))), one weight per channel; the MLP is shared and has no biases (eq. 2)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True)))


class SpatialAttention(nn.Module):
    """σ(conv_k×k([MaxPool_c(x); AvgPool_c(x)])), one weight per position (eq. 3; channel order as the article)."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"CBAM needs an odd spatial kernel size to keep H×W, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)))


@register("cbam")
class CBAM(nn.Module):
    """x ← x·Mc(x), then x ← x·Ms(x): channel attention, then spatial attention on its output.

    Args:
        channels: input channels C.
        reduction: bottleneck ratio r of the channel MLP; the hidden width is ``max(C // r, min_channels)`` so that any
            C ≥ 8 works (the article's C // r is 0 for C < r).
        kernel_size: odd kernel of the spatial convolution (paper: 7; the article's default is 49).
        min_channels: the smallest hidden width.

    As in the paper, the module has no residual connection: the article adds the input back (``out + residual``),
    which belongs to the ResNet block CBAM sits in, not to CBAM. The official code's BatchNorm after the spatial
    convolution is not in the paper's equations and not here either.
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7, min_channels: int = 4) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, max(channels // reduction, min_channels))
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)
