"""DoubleAttentionLayer from double-attention-a2nets-yolov8.txt, section 2.1 (layout repaired).

The article's code stops after ``attention_vectors = V.view(...)`` (the rest is behind a link). The forward is completed
here as in the implementation it copies: softmax over the h·w positions for the gathering maps B, softmax over the c_n
descriptors for the distribution vectors V, gathering by ``bmm`` into (B, c_m, c_n) global descriptors, distribution by
``matmul`` back to every position, and the optional 1×1 reconstruction conv to ``in_channels``. Everything up to
``attention_vectors = V.view(...)`` is the article's text.
"""

# ruff: noqa: UP008 (the article's old-style super, kept verbatim)

import torch
import torch.nn.functional as F
from torch import nn


class DoubleAttentionLayer(nn.Module):
    """
    Implementation of Double Attention Network. NIPS 2018
    """

    def __init__(self, in_channels: int, c_m: int, c_n: int, reconstruct=False):
        """
        Parameters
        ----------
        in_channels
        c_m
        c_n
        reconstruct: `bool` whether to re-construct output to have shape (B, in_channels, L, R)
        """
        super(DoubleAttentionLayer, self).__init__()
        self.c_m = c_m
        self.c_n = c_n
        self.in_channels = in_channels
        self.reconstruct = reconstruct
        self.convA = nn.Conv2d(in_channels, c_m, kernel_size=1)
        self.convB = nn.Conv2d(in_channels, c_n, kernel_size=1)
        self.convV = nn.Conv2d(in_channels, c_n, kernel_size=1)
        if self.reconstruct:
            self.conv_reconstruct = nn.Conv2d(c_m, in_channels, kernel_size=1)

    def forward(self, x: torch.Tensor):
        """
        Parameters
        ----------
        x: `torch.Tensor` of shape (B, C, H, W)
        Returns
        -------
        """
        batch_size, c, h, w = x.size()
        assert c == self.in_channels, "input channel not equal!"
        A = self.convA(x)  # (B, c_m, h, w) because kernel size is 1
        B = self.convB(x)  # (B, c_n, h, w)
        V = self.convV(x)  # (B, c_n, h, w)
        tmpA = A.view(batch_size, self.c_m, h * w)
        attention_maps = B.view(batch_size, self.c_n, h * w)
        attention_vectors = V.view(batch_size, self.c_n, h * w)
        # --- completion (see the module docstring) ---
        attention_maps = F.softmax(attention_maps, dim=-1)  # gathering maps: softmax over the h·w positions
        global_descriptors = torch.bmm(tmpA, attention_maps.permute(0, 2, 1))  # (B, c_m, c_n)
        attention_vectors = F.softmax(attention_vectors, dim=1)  # distribution vectors: softmax over c_n
        tmpZ = global_descriptors.matmul(attention_vectors)  # (B, c_m, h·w)
        tmpZ = tmpZ.view(batch_size, self.c_m, h, w)
        if self.reconstruct:
            tmpZ = self.conv_reconstruct(tmpZ)
        return tmpZ
