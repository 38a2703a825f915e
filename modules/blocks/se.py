"""Squeeze-and-Excitation.

Hu, Shen, Sun: "Squeeze-and-Excitation Networks", CVPR 2018. https://arxiv.org/abs/1709.01507
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


@register("se", "senet")
class SE(nn.Module):
    """Global average pool, a two-layer bottleneck MLP and a sigmoid gate per channel.

    Args:
        channels: input channels C.
        reduction: bottleneck ratio r; the hidden width is ``max(C // r, min_channels)`` so that any C ≥ 8 works
            (the article's C // r is 0 for C < r).
        min_channels: the smallest hidden width.
        bias: biases in the two 1×1 layers (the article's code has none).
    """

    def __init__(self, channels: int, reduction: int = 16, min_channels: int = 4, bias: bool = False) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(self.pool(x))
