"""Criss-Cross Attention.

Huang, Wang, Huang, Huang, Wei, Liu: "CCNet: Criss-Cross Attention for Semantic Segmentation", ICCV 2019.
https://arxiv.org/abs/1811.11721
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


@register("ccnet", "criss_cross")
class CrissCrossAttention(nn.Module):
    """Each position attends to its row and column; applied ``recurrence`` times with shared weights (RCCA).

    At position (i, j) the query meets the keys of the H + W − 1 positions of its criss-cross path: column j with the
    position itself masked out (−∞, as the official implementation does), and row i, which contains it once. One
    softmax over both; the values of the path are summed with these weights and added as x + γ·out, γ zero-initialised.
    Two recurrences give every position information from every other one.

    Args:
        channels: input channels C.
        reduction: channel ratio of the query and key; their width is ``max(C // reduction, min_channels)`` (C/8 in
            the paper).
        recurrence: how many times the module is applied (R = 2 in the paper).
        min_channels: the smallest query and key width.

    Adaptations: pure PyTorch (einsum) instead of the official CUDA kernel, so it runs on CPU and exports to ONNX. The
    segmentation head's convolutions around the recurrence are not part of the block.
    """

    def __init__(self, channels: int, reduction: int = 8, recurrence: int = 2, min_channels: int = 4) -> None:
        super().__init__()
        width = max(channels // reduction, min_channels)
        self.query = nn.Conv2d(channels, width, 1)
        self.key = nn.Conv2d(channels, width, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.recurrence = recurrence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.recurrence):
            x = x + self.gamma * self._criss_cross(x)
        return x

    def _criss_cross(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        q, k, v = self.query(x), self.key(x), self.value(x)
        column = torch.einsum("bcij,bchj->bijh", q, k)  # (B, H, W, H): (i, j) against (h, j)
        row = torch.einsum("bcij,bciw->bijw", q, k)  # (B, H, W, W): (i, j) against (i, w)
        rows = torch.arange(h, device=x.device)
        itself = rows.view(h, 1, 1) == rows.view(1, 1, h)  # (H, 1, H): the column entry h == i is the position itself
        attention = torch.cat([column.masked_fill(itself, float("-inf")), row], dim=3).softmax(dim=3)
        on_column, on_row = attention.split([h, w], dim=3)
        return torch.einsum("bijh,bchj->bcij", on_column, v) + torch.einsum("bijw,bciw->bcij", on_row, v)
