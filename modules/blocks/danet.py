"""DANet position and channel attention.

Fu, Liu, Tian, Li, Bao, Fang, Lu: "Dual Attention Network for Scene Segmentation", CVPR 2019.
https://arxiv.org/abs/1809.02983
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


@register("danet", "dual_attention")
class DANet(nn.Module):
    """Position attention module (PAM, eqs. 1–2) and channel attention module (CAM, eqs. 3–4), summed.

    PAM: s_ji = softmax_i(B_i · C_j) over the N = H·W positions, P_j = Σ_i s_ji D_i, with B, C, D 1×1 convolutions
    of the input A. CAM: x_ji = softmax_i(A_i · A_j) over the channels, Q_j = Σ_i x_ji A_i. Output A + α·P + β·Q, with
    α and β zero-initialised as in the paper, so the block starts as an identity map. PAM costs O((H·W)²) memory.

    Args:
        channels: input channels C.
        reduction: channel ratio of B and C; their width is ``max(C // reduction, min_channels)`` (the paper's C/8).
        min_channels: the smallest width of B and C.

    Adaptations: each module of the paper is E = γ·attention + A; summing the two would count the input twice, so the
    sum shares one residual. The paper's CAM energy A_i · A_j is used as written (the official code takes the softmax
    of max − energy instead). The segmentation head's extra 3×3 convolutions around the modules are not part of the
    block.
    """

    def __init__(self, channels: int, reduction: int = 8, min_channels: int = 4) -> None:
        super().__init__()
        width = max(channels // reduction, min_channels)
        self.conv_b = nn.Conv2d(channels, width, 1)
        self.conv_c = nn.Conv2d(channels, width, 1)
        self.conv_d = nn.Conv2d(channels, channels, 1)
        self.alpha = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.flatten(2)  # (B, C, N)
        b, c, d = (conv(x).flatten(2) for conv in (self.conv_b, self.conv_c, self.conv_d))
        position = (c.transpose(1, 2) @ b).softmax(dim=2)  # (B, N_j, N_i)
        channel = (a @ a.transpose(1, 2)).softmax(dim=2)  # (B, C_j, C_i)
        out = self.alpha * (d @ position.transpose(1, 2)) + self.beta * (channel @ a)
        return x + out.view_as(x)
