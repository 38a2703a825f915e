"""Which head levels detect (runners.levels): on an untrained yolov8n and on stand-in heads, no data, no training."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from runners.levels import anchor_levels, per_level


class OneBox(nn.Module):
    """A stand-in detector of strides 8, 16, 32 that predicts one confident box, at anchor ``at``, and nothing else."""

    stride = torch.tensor([8.0, 16.0, 32.0])

    def __init__(self, at: int, anchors: int | None = None) -> None:
        super().__init__()
        self.at, self.anchors = at, anchors

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        n = self.anchors or sum((img.shape[2] // s) * (img.shape[3] // s) for s in (8, 16, 32))
        pred = torch.zeros(img.shape[0], 4 + 2, n)
        pred[:, :4, self.at] = torch.tensor([32.0, 32.0, 20.0, 20.0])  # xywh
        pred[:, 4, self.at] = 0.9
        return pred


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


@pytest.mark.parametrize(("at", "level"), [(0, 0), (63, 0), (64, 1), (79, 1), (80, 2), (83, 2)])
def test_a_box_is_counted_at_the_level_of_its_anchor(at: int, level: int) -> None:
    above, kept = per_level(OneBox(at), [torch.zeros(3, 3, 64, 64)], conf=0.25, iou=0.7)
    expected = [0, 0, 0]
    expected[level] = 3  # one box in each of the three images
    assert above == kept == expected


def test_a_head_without_one_prediction_per_anchor_is_refused() -> None:
    with pytest.raises(ValueError, match="not one prediction per anchor"):
        per_level(OneBox(0, anchors=300), [torch.zeros(1, 3, 64, 64)], conf=0.25, iou=0.7)
