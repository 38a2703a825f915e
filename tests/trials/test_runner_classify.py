"""The classification runner end to end on CPU: torchvision's resnet18 on tiny digits."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from torchvision.models import resnet18

from runners import DatasetError, TrainConfig, fit_classification


def test_fit_returns_top1_and_reports_every_epoch(digits_classify: Path, tiny: TrainConfig) -> None:
    tiny.epochs, tiny.imgsz = 2, 32
    epochs = []
    result = fit_classification(resnet18(num_classes=10), digits_classify, tiny, on_epoch=lambda e, m: epochs.append(e))
    assert epochs == [0, 1] and result.epochs == 2 and len(result.history) == 2
    assert set(result.metrics) == {"top1", "top5"} and result.primary == result.metrics["top1"]
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in result.metrics.values())
    assert result.metrics["top5"] >= result.metrics["top1"]


def test_corrupt_image_is_named(digits_classify: Path, tiny: TrainConfig, tmp_path: Path) -> None:
    root = tmp_path / "broken"
    shutil.copytree(digits_classify, root, ignore=shutil.ignore_patterns("*.cache"))
    bad = sorted((root / "val").rglob("*.png"))[0]
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=bad.name):
        fit_classification(resnet18(num_classes=10), root, tiny)


def test_a_folder_without_splits_is_refused(tiny: TrainConfig, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="train/ and val/"):
        fit_classification(resnet18(num_classes=10), tmp_path, tiny)
