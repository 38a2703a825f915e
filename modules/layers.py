"""Small helpers shared by the blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round ``v`` to a multiple of ``divisor`` (at least ``min_value``), never losing more than 10% of it."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of ``n`` that is no greater than ``at_most`` (at least 1)."""
    for d in range(max(1, min(at_most, n)), 0, -1):
        if n % d == 0:
            return d
    return 1


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that also trains on a single value per channel (batch 1 at 1×1, e.g. a pooled descriptor).

    PyTorch raises there; with one value the batch variance is undefined, so this layer normalises with the running
    statistics, as in eval mode, and leaves them unchanged. Everywhere else it is exactly ``nn.BatchNorm2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


def conv_bn(
    in_channels: int, out_channels: int, kernel_size: int = 1, *, dilation: int = 1, relu: bool = True
) -> nn.Sequential:
    """Convolution with 'same' padding, then ``BatchNorm2d`` and (optionally) ReLU.

    The convolution has no bias: the BatchNorm's shift replaces it (a bias before BatchNorm gets no gradient in
    training and is absorbed by the running mean in eval).
    """
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation, bias=False
        ),
        BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)
