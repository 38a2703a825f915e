"""Zero-initialised residual gate: makes any shape-preserving block an exact identity map at initialisation."""

from __future__ import annotations

import torch
from torch import nn


class ResidualGate(nn.Module):
    """y = x + γ·(f(x) − x) with a learnable scalar γ initialised to 0.

    At γ = 0 the output is exactly x, so a block wrapped in it can go into a pretrained network without changing its
    outputs; training then moves γ (the idea of zero-initialising the last BatchNorm of a residual branch, Goyal et al.,
    2017).
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * (self.block(x) - x)
