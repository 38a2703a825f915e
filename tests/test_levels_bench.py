"""The detection-level count of benchmarks/levels.py on an untrained yolov8n: no data, no training."""

from __future__ import annotations

import torch
from ultralytics.nn.tasks import DetectionModel

from benchmarks.levels import anchor_levels, per_level


def test_anchors_are_counted_per_level_in_the_heads_order() -> None:
    levels = anchor_levels([8.0, 16.0, 32.0], 64, 96)
    assert levels.tolist() == [0] * 96 + [1] * 24 + [2] * 6  # (64/8)·(96/8), then /16, then /32


def test_every_anchor_passes_a_zero_threshold_and_nms_keeps_a_subset() -> None:
    torch.manual_seed(0)
    model = DetectionModel("yolov8n.yaml", nc=2, verbose=False)
    images = [torch.rand(2, 3, 64, 64)]
    above, kept = per_level(model, images, conf=0.0, iou=0.7)
    assert above == [2 * 64, 2 * 16, 2 * 4]  # two images, (64/8)², (64/16)², (64/32)² anchors
    assert all(0 <= k <= a for k, a in zip(kept, above, strict=True)) and sum(kept) > 0
    assert per_level(model, images, conf=1.0, iou=0.7) == ([0, 0, 0], [0, 0, 0])  # sigmoid scores never exceed 1
