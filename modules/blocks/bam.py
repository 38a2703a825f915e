"""BAM: Bottleneck Attention Module, channel and spatial attention in parallel.

Park, Woo, Lee, Kweon: "BAM: Bottleneck Attention Module", BMVC 2018. https://arxiv.org/abs/1807.06514
"""

from __future__ import annotations

import torch
from torch import nn

from modules.layers import conv_bn
from modules.registry import register


@register("bam")
class BAM(nn.Module):
    """y = x·(1 + σ(Mc(x) + Ms(x))), Mc one weight per channel, Ms one per position (broadcast to C×H×W).

    Mc: global average pool, ``channel_layers`` × (1×1 conv → BatchNorm → ReLU) to the hidden width, 1×1 conv back
    to C. Ms: 1×1 conv to the hidden width, ``spatial_layers`` × dilated 3×3 conv, each with BatchNorm and ReLU,
    1×1 conv to one map.

    Args:
        channels: input channels C.
        reduction: ratio r of the hidden width ``max(C // r, min_channels)``, so that any C ≥ 8 works (the article's
            C // r is 0 for C < r).
        dilation: dilation d of the 3×3 convolutions, padded by d so that H×W is kept (the article pads by 1 whatever
            d is, which shrinks the map by 2(d − 1) per convolution).
        channel_layers: hidden layers of the channel MLP (official code: 1; the article: 3).
        spatial_layers: dilated 3×3 convolutions of the spatial branch (paper: 2; the article: 3).
        min_channels: the smallest hidden width.

    BatchNorm is ``modules.layers.BatchNorm2d`` on the pooled (B, C', 1, 1) descriptor, so a batch of 1 trains (the
    article's BatchNorm1d raises there). Convolutions before a BatchNorm have no bias (it would get no gradient).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        dilation: int = 4,
        channel_layers: int = 1,
        spatial_layers: int = 2,
        min_channels: int = 4,
    ) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_channels)
        self.channel = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            *(conv_bn(hidden if i else channels, hidden) for i in range(channel_layers)),
            nn.Conv2d(hidden, channels, 1),
        )
        self.spatial = nn.Sequential(
            conv_bn(channels, hidden),
            *(conv_bn(hidden, hidden, 3, dilation=dilation) for _ in range(spatial_layers)),
            nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1 + torch.sigmoid(self.channel(x) + self.spatial(x)))
