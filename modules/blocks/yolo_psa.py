"""The PSA block of YOLOv10 / YOLO11, reused from ultralytics and wrapped to the block contract.

Wang, Chen, Liu, Chen, Lin, Han, Ding: "YOLOv10: Real-Time End-to-End Object Detection", 2024.
https://arxiv.org/abs/2405.14458
"""

from __future__ import annotations

from ultralytics.nn.modules.block import PSA, Attention
from ultralytics.nn.modules.conv import Conv

from modules.layers import BatchNorm2d, largest_divisor
from modules.registry import register


@register("yolo_psa", "psa_yolo")
class YOLOPSA(PSA):
    """ultralytics' ``PSA``: split into two halves, multi-head self-attention and an FFN on one, concatenate, 1×1 conv.

    Not Polarized Self-Attention (that is ``psa``). The forward is ultralytics' own; only the construction is adapted.

    Args:
        channels: input channels C (= output channels).
        expansion: ratio e of the attended half, c = int(C·e).

    Adaptations: ultralytics takes c // 64 heads (at least 1 in recent releases); a head count that does not divide c
    breaks its reshape (e.g. C = 258, c = 129, 2 heads), so ours is the largest divisor of c not above that. Its
    ``Conv`` layers use ``nn.BatchNorm2d``, which fails in training on batch 1 at 1×1; they get the project's
    ``BatchNorm2d``.
    """

    def __init__(self, channels: int, expansion: float = 0.5) -> None:
        super().__init__(channels, channels, expansion)
        heads = largest_divisor(self.c, self.attn.num_heads)
        if heads != self.attn.num_heads:
            self.attn = Attention(self.c, attn_ratio=0.5, num_heads=heads)
        for conv in self.modules():
            if isinstance(conv, Conv):
                conv.bn = BatchNorm2d(conv.bn.num_features, conv.bn.eps, conv.bn.momentum)
