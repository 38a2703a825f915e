"""GAM: Global Attention Mechanism, a per-position channel MLP then a 7×7 convolutional spatial attention.

Liu, Shao, Hoffmann: "Global Attention Mechanism: Retain Information to Enhance Channel-Spatial Interactions", 2021.
https://arxiv.org/abs/2112.05561
"""

from __future__ import annotations

import torch
from torch import nn

from modules.layers import conv_bn
from modules.registry import register


@register("gam")
class GAM(nn.Module):
    """x ← x·σ(MLP(x)), then x ← x·σ(BN(conv₇(ReLU(BN(conv₇(x)))))), with no pooling in either branch.

    The channel MLP acts on the channel vector of every position (the paper's permute–MLP–permute back), written as
    two 1×1 convolutions.

    Args:
        channels: input channels C.
        reduction: ratio r (the article's ``rate``) of the hidden width ``max(C // r, min_channels)`` of both branches.
        min_channels: the smallest hidden width.

    The channel attention ends in a sigmoid, as in the paper; the article's has none, so its "attention" is an
    unbounded, signed rescaling. The 7×7 convolutions have no bias (each is followed by a BatchNorm). The paper's
    optional group convolution with channel shuffle (for ResNet-50) is not included.
    """

    def __init__(self, channels: int, reduction: int = 4, min_channels: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_channels)
        self.channel = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )
        self.spatial = nn.Sequential(
            conv_bn(channels, hidden, 7), conv_bn(hidden, channels, 7, relu=False), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)
