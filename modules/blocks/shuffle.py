"""SA-Net Shuffle Attention: per group, channel attention on one half and spatial attention on the other, shuffled.

Zhang, Yang: "SA-Net: Shuffle Attention for Deep Convolutional Neural Networks", ICASSP 2021.
https://arxiv.org/abs/2102.00240
"""

from __future__ import annotations

import torch
from torch import nn

from modules.layers import largest_divisor
from modules.registry import register


@register("shuffle", "sa_net")
class ShuffleAttention(nn.Module):
    """Split C into G groups; in each, x₀·σ(w_c·GAP(x₀) + b_c) on the first half and x₁·σ(w_s·GN(x₁) + b_s) on the
    second; concatenate and interleave the two halves of C (channel shuffle with 2 groups).

    The scales w_c, w_s (init 0) and shifts b_c, b_s (init 1, as the official code) are per channel of a half-group
    and shared by all groups. GN normalises each map over H×W (one group per channel) and has no affine of its own:
    the article's (γ, β) only rescale w_s and b_s. It is computed by hand, which also runs on one value per map (batch
    1 at 1×1 with G' = 1), where ``nn.GroupNorm`` raises in training.

    Args:
        channels: input channels C.
        groups: G (paper: 64). The article's code needs 2·G to divide C; here G adapts to the largest G' ≤ G with
            2·G' dividing C. For odd C, G' is the largest divisor of C that is at most min(G, C // 2), and each group of
            C / G' (odd, ≥ 3) channels gives its channel branch one channel more than its spatial branch; the shuffle
            then interleaves the (C + 1) / 2 channels of the first half with the (C − 1) / 2 of the second. E.g.
            C = 40, G = 8 gives G' = 5; C = 13 gives G' = 1 with a 7 + 6 split.
    """

    eps = 1e-5  # of the GroupNorm, as PyTorch's

    def __init__(self, channels: int, groups: int = 64) -> None:
        super().__init__()
        if channels % 2 == 0:
            self.groups = largest_divisor(channels // 2, groups)
        else:
            self.groups = largest_divisor(channels, min(groups, channels // 2))
        size = channels // self.groups
        self.split = ((size + 1) // 2, size // 2)
        self.cweight = nn.Parameter(torch.zeros(1, self.split[0], 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, self.split[0], 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, self.split[1], 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, self.split[1], 1, 1))
        # Channel shuffle as a gather: output 2i is channel i, output 2i + 1 is channel ⌈C/2⌉ + i.
        order = torch.arange(channels)
        shuffle = torch.empty_like(order)
        shuffle[0::2], shuffle[1::2] = order[: (channels + 1) // 2], order[(channels + 1) // 2 :]
        self.register_buffer("shuffle", shuffle, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x0, x1 = x.reshape(b * self.groups, c // self.groups, h, w).split(self.split, dim=1)
        x0 = x0 * torch.sigmoid(self.cweight * x0.mean((2, 3), keepdim=True) + self.cbias)
        x1n = (x1 - x1.mean((2, 3), keepdim=True)) * torch.rsqrt(x1.var((2, 3), keepdim=True, correction=0) + self.eps)
        x1 = x1 * torch.sigmoid(self.sweight * x1n + self.sbias)
        return torch.cat([x0, x1], 1).reshape(b, c, h, w).index_select(1, self.shuffle)
