"""A²-Nets Double Attention.

Chen, Kalantidis, Li, Yan, Feng: "A²-Nets: Double Attention Networks", NeurIPS 2018. https://arxiv.org/abs/1810.11579
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


@register("double", "a2net", "double_attention")
class DoubleAttention(nn.Module):
    """Gather global descriptors with one attention, distribute them to every position with another.

    Gathering: c_n attention maps (softmax over the H·W positions) pool c_m features into c_m × c_n second-order
    descriptors. Distribution: at each position a softmax over the c_n descriptors mixes them back. A 1×1 convolution
    reconstructs C channels, added to the input (the paper's residual form of the block).

    Args:
        channels: input channels C.
        reduction_m: feature width c_m = ``max(C // reduction_m, min_channels)``.
        reduction_n: number of descriptors c_n = ``max(C // reduction_n, min_channels)``. The paper leaves m and n as
            design choices; C/4 for both is the common setting of reimplementations (512 → 128).
        min_channels: the smallest c_m and c_n.

    Adaptations: reconstruction to C and the residual are always on (the article's layer returns c_m channels unless
    ``reconstruct=True`` and has no residual).
    """

    def __init__(self, channels: int, reduction_m: int = 4, reduction_n: int = 4, min_channels: int = 4) -> None:
        super().__init__()
        c_m = max(channels // reduction_m, min_channels)
        c_n = max(channels // reduction_n, min_channels)
        self.convA = nn.Conv2d(channels, c_m, 1)
        self.convB = nn.Conv2d(channels, c_n, 1)
        self.convV = nn.Conv2d(channels, c_n, 1)
        self.conv_reconstruct = nn.Conv2d(c_m, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        features = self.convA(x).flatten(2)  # (B, c_m, N)
        gathering = self.convB(x).flatten(2).softmax(dim=2)  # (B, c_n, N), each map sums to 1 over positions
        distribution = self.convV(x).flatten(2).softmax(dim=1)  # (B, c_n, N), sums to 1 over descriptors
        descriptors = features @ gathering.transpose(1, 2)  # (B, c_m, c_n)
        z = (descriptors @ distribution).view(b, -1, h, w)
        return x + self.conv_reconstruct(z)
