"""Coordinate Attention.

Hou, Zhou, Feng: "Coordinate Attention for Efficient Mobile Network Design", CVPR 2021. https://arxiv.org/abs/2103.02907
"""

from __future__ import annotations

import torch
from torch import nn

from modules.layers import BatchNorm2d
from modules.registry import register


@register("coord", "coordatt")
class CoordAtt(nn.Module):
    """Direction-aware channel attention: pool along each spatial axis, a shared 1×1 bottleneck, one gate per axis.

    The input is averaged over W (one descriptor per row) and over H (one per column); both strips go through a shared
    1×1 convolution, BatchNorm and h-swish, then split into an H gate and a W gate that multiply the input.

    Args:
        channels: input channels C.
        reduction: bottleneck ratio r; the hidden width is ``max(C // r, min_channels)``, as in the article.
        min_channels: the smallest hidden width.

    Adaptations: strip pooling by ``mean`` over one axis instead of ``AdaptiveAvgPool2d((None, 1))`` (same values; it
    exports to ONNX for any H, W), and ``nn.Hardswish`` for the article's h_swish (the same function).
    """

    def __init__(self, channels: int, reduction: int = 32, min_channels: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_channels)
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.bn1 = BatchNorm2d(hidden)
        self.act = nn.Hardswish()
        self.conv_h = nn.Conv2d(hidden, channels, 1)
        self.conv_w = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        strips = torch.cat([x.mean(dim=3, keepdim=True), x.mean(dim=2, keepdim=True).transpose(2, 3)], dim=2)
        y_h, y_w = torch.split(self.act(self.bn1(self.conv1(strips))), [h, w], dim=2)
        return x * self.conv_w(y_w.transpose(2, 3)).sigmoid() * self.conv_h(y_h).sigmoid()
