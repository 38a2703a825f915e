"""What ``trainer.seed`` changes in the runner: data order and augmentation follow it, so repeat k of every
architecture sees the same batches (common random numbers) and another seed sees others."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from ultralytics.nn.tasks import DetectionModel

from runners import TrainConfig
from runners.detect import DetectionModule
from runners.fit import fit


class FirstBatches(DetectionModule):
    """Records the files and augmented pixels of the first training batches, then stops."""

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Any:
        if batch_idx < 2:
            self.seen.append((list(batch["im_file"]), batch["img"].clone()))
        return super().training_step(batch, batch_idx)


def _batches(data: Path, cfg: TrainConfig, seed: int) -> list[tuple[list[str], torch.Tensor]]:
    torch.manual_seed(123)  # the same network every time: only the runner's seed differs
    module = FirstBatches(DetectionModel("yolov8n.yaml", nc=10, verbose=False), data, replace(cfg, seed=seed))
    module.seen = []
    fit(module, replace(cfg, seed=seed), progress="none")
    return module.seen


def test_data_order_and_augmentation_follow_the_seed(digits_detect: Path, tiny: TrainConfig) -> None:
    cfg = replace(tiny, mosaic=1.0, close_mosaic=0, hsv_v=0.4, translate=0.1, scale=0.5)  # augmentations on
    first, again, other = (_batches(digits_detect, cfg, seed) for seed in (0, 0, 1))
    for (files_a, img_a), (files_b, img_b) in zip(first, again, strict=True):
        assert files_a == files_b and torch.equal(img_a, img_b)  # same seed: same batches, pixel for pixel
    assert [f for f, _ in first] != [f for f, _ in other]  # another seed: another order
    assert not all(torch.equal(a, b) for (_, a), (_, b) in zip(first, other, strict=True))
