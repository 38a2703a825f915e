"""ECA: Efficient Channel Attention, a 1-D convolution across channels with a kernel size adaptive to C.

Wang, Wu, Zhu, Li, Zuo, Hu: "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks",
CVPR 2020. https://arxiv.org/abs/1910.03151
"""

from __future__ import annotations

import math

import torch
from torch import nn

from modules.registry import register


def adaptive_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """k = |log2(C)/γ + b/γ|_odd (eq. 12), as the official code: truncate, then round an even value up to odd."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@register("eca", "eca_net")
class ECA(nn.Module):
    """Global average pool, a k-tap 1-D convolution across the channel axis (no bias), a sigmoid gate per channel.

    Args:
        channels: input channels C.
        kernel_size: odd k; ``None`` (the paper's method) picks it from C with γ and b, e.g. 3 for C = 64, 5 for
            C = 256 (the article fixes k = 3).
        gamma: γ of the adaptive kernel size.
        b: b of the adaptive kernel size.

    The convolution has no bias, as in the paper's ω = σ(C1D_k(y)) and the official code (the article's has one).
    """

    def __init__(self, channels: int, kernel_size: int | None = None, gamma: int = 2, b: int = 1) -> None:
        super().__init__()
        k = adaptive_kernel_size(channels, gamma, b) if kernel_size is None else kernel_size
        if k % 2 == 0:
            raise ValueError(f"ECA needs an odd kernel size to keep C, got {k}")
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).unsqueeze(1))  # (B, 1, C)
        return x * torch.sigmoid(y).transpose(1, 2).unsqueeze(-1)
