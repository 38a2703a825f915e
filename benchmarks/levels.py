"""Which output levels of the trained baseline detect? Per level of the detection head (P3 at stride 8, P4 at 16, P5
at 32), on the validation split: the anchors whose best class score passes ``--conf`` and the boxes that NMS keeps.

A block changes a trial's score only through levels that detect: on the default digits data the exhaustive table
finds every neck site on the P4/P5 paths inert (README, Search efficiency), and this measures why.

Usage (from the repository root; the cached baseline, trained first if missing)::

    python -m benchmarks.levels [--conf 0.25] [--iou 0.7] [overrides]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from ultralytics.data import build_dataloader
from ultralytics.utils.nms import non_max_suppression

from benchmarks import fidelity
from benchmarks.fidelity import TASKS
from runners.detect import DetectionModule
from search.placement import apply


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
        levels = anchor_levels(strides, img.shape[2], img.shape[3])
        scores = pred[:, 4:].amax(1)
        _, idxs = non_max_suppression(pred, conf_thres=conf, iou_thres=iou, return_idxs=True)
        for level in range(len(strides)):
            above[level] += int(((scores > conf) & (levels == level)).sum())
            kept[level] += sum(int((levels[i.long().flatten()] == level).sum()) for i in idxs)
    return above, kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", type=float, default=0.25, help="class score threshold (ultralytics' predict default)")
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (ultralytics' default)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the search config (model, data, baseline)")
    args = parser.parse_args(argv)
    setup = fidelity.protocol(TASKS["detect"], args.overrides)
    model = apply(setup.task.model, {}, setup.weights, nc=setup.task.nc).model
    module = DetectionModule(model, setup.data, setup.settings)
    _, val_set = module.build_datasets(setup.settings.batch)
    loader = build_dataloader(val_set, setup.settings.batch, 0, shuffle=False, rank=-1)
    images = (module.on_after_batch_transfer(batch, 0)["img"] for batch in loader)
    above, kept = per_level(model, images, args.conf, args.iou)
    heights = sorted(float(h) for label in val_set.labels for h in label["bboxes"][:, 3])  # of the image's height
    print(f"baseline {setup.weights} on {len(val_set)} validation images ({setup.data}); object height as a fraction "
          f"of the image's: median {heights[len(heights) // 2]:.2f}, largest {heights[-1]:.2f}")  # fmt: skip
    print(f"| level | stride | anchors scoring > {args.conf} | boxes kept by NMS (IoU {args.iou}) |")
    print("|---|---:|---:|---:|")
    for level, stride in enumerate(model.stride):
        print(f"| P{int(math.log2(stride))} | {int(stride)} | {above[level]} | {kept[level]} |")


if __name__ == "__main__":
    main()
