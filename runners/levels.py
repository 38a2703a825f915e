"""Which levels of a detection head detect: per output level (P3 at stride 8, P4 at 16, P5 at 32), on the validation
split, the anchors whose best class score passes a threshold and the boxes that NMS keeps.

A block changes a detector's score only through the levels its output reaches, so a level where a trained model keeps
no box makes every site that feeds it alone inert (``search.inert``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn
from ultralytics.utils.nms import non_max_suppression

from runners.config import TrainConfig
from runners.detect import val_batches

CONF = 0.25  # ultralytics' predict default: a box a user would see
IOU = 0.7  # ultralytics' NMS default


def anchor_levels(strides: Sequence[float], height: int, width: int) -> torch.Tensor:
    """The level (0 for the finest stride) of each anchor of an image, in the order the head concatenates them."""
    sizes = [int(height // s) * int(width // s) for s in strides]
    return torch.cat([torch.full((n,), level) for level, n in enumerate(sizes)])


@torch.no_grad()
def per_level(model: nn.Module, images: Iterable[torch.Tensor], conf: float, iou: float) -> tuple[list[int], list[int]]:
    """Over batches of normalised images: per level, the anchors scoring above ``conf`` and the boxes NMS keeps."""
    model.eval()
    strides = [float(s) for s in model.stride]
    above, kept = [0] * len(strides), [0] * len(strides)
    for img in images:
        out = model(img)
        pred = out[0] if isinstance(out, (list, tuple)) else out  # (batch, 4 + classes, anchors)
        levels = anchor_levels(strides, img.shape[2], img.shape[3]).to(pred.device)
        if pred.ndim != 3 or pred.shape[2] != len(levels):
            raise ValueError(f"the head's output {tuple(pred.shape)} is not one prediction per anchor of its levels")
        scores = pred[:, 4:].amax(1)
        _, idxs = non_max_suppression(pred, conf_thres=conf, iou_thres=iou, return_idxs=True)
        for level in range(len(strides)):
            above[level] += int(((scores > conf) & (levels == level)).sum())
            kept[level] += sum(int((levels[i.long().flatten()] == level).sum()) for i in idxs)
    return above, kept


def head_levels(
    model: nn.Module, data: str | Path, cfg: TrainConfig, conf: float = CONF, iou: float = IOU
) -> dict[int, tuple[int, int]]:
    """Stride -> (anchors scoring above ``conf``, boxes NMS keeps) of ``model`` on the validation split of ``data``,
    read and letterboxed as a trial validates (``cfg.imgsz``, ``cfg.batch``), on a GPU where the trainer may use one."""
    _, batches = val_batches(model, data, cfg)
    above, kept = per_level(model, (batch["img"] for batch in batches), conf, iou)
    return {int(s): (a, k) for s, a, k in zip(model.stride, above, kept, strict=True)}
