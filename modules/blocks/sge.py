"""SGE: Spatial Group-wise Enhance, each channel group gated by its similarity to its own global descriptor.

Li, Hu, Yang: "Spatial Group-wise Enhance: Improving Semantic Feature Learning in Convolutional Networks", 2019.
https://arxiv.org/abs/1905.09646
"""

from __future__ import annotations

import torch
from torch import nn

from modules.layers import largest_divisor
from modules.registry import register


@register("sge", "spatial_group_enhance")
class SpatialGroupEnhance(nn.Module):
    """Per group: c = Σ_channels x·GAP(x), normalised over H×W, then x·σ(w·ĉ + b) with one (w, b) per group.

    Args:
        channels: input channels C.
        groups: G (paper: 64); where G does not divide C it adapts to the largest divisor of C that is at most G (the
            article's code fails), e.g. G' = 40 for C = 40 and G' = 13 for C = 13 (one channel per group), G' = 10 for
            C = 40, G = 16.

    w starts at 0 and b at 1, as the official code (the article starts b at 0, which halves every feature at init).
    ĉ = (c − mean) / (std + 1e-5) with the unbiased std of the official code, made safe: the variance is floored at ε²
    before its square root (whose gradient is infinite at 0, on a constant map), and a single position (H·W = 1, where
    the unbiased std is NaN, and so is the article's output) gets ĉ = 0.
    """

    eps = 1e-5

    def __init__(self, channels: int, groups: int = 64) -> None:
        super().__init__()
        self.groups = largest_divisor(channels, groups)
        self.weight = nn.Parameter(torch.zeros(1, self.groups, 1, 1))
        self.bias = nn.Parameter(torch.ones(1, self.groups, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        xg = x.reshape(b * self.groups, c // self.groups, h, w)
        t = (xg * xg.mean((2, 3), keepdim=True)).sum(1).flatten(1)  # (B·G, HW)
        t = t - t.mean(1, keepdim=True)
        dof = torch.ones_like(t[:1]).sum() - 1  # H·W − 1 as a tensor, so that an ONNX export keeps H, W dynamic
        var = t.square().sum(1, keepdim=True) / dof.clamp_min(1)
        t = t / (var.clamp_min(self.eps**2).sqrt() + self.eps)
        gate = torch.sigmoid(t.view(b, self.groups, h, w) * self.weight + self.bias)
        return (xg * gate.view(b * self.groups, 1, h, w)).reshape(b, c, h, w)
