"""The detection runner end to end on CPU: yolov8n and yolo26n on a tiny digits set."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from ultralytics.nn.tasks import DetectionModel

from runners import DatasetError, TrainConfig, TrialResult, fit_detection
from runners.data.checks import detection_data
from runners.detect import DetectionModule
from runners.fit import fit
from runners.module import TrialModule


def _model(cfg: str = "yolov8n.yaml", nc: int = 10) -> DetectionModel:
    return DetectionModel(cfg, nc=nc, verbose=False)


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolo26n.yaml"])  # yolo26n: end-to-end head, E2ELoss
def test_fit_returns_finite_metrics_and_reports_every_epoch(cfg: str, digits_detect: Path, tiny: TrainConfig) -> None:
    tiny.epochs = 2
    calls = []
    result = fit_detection(_model(cfg), digits_detect, tiny, on_epoch=lambda e, m: calls.append((e, m)))
    assert isinstance(result, TrialResult)
    assert [e for e, _ in calls] == [0, 1]
    assert result.history == [m for _, m in calls] and result.metrics == result.history[-1]
    assert result.epochs == 2 and not result.stopped_early
    assert {"map50_95", "map50", "precision", "recall"} <= result.metrics.keys()
    assert any(key.startswith("ap50_95/") for key in result.metrics)
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in result.metrics.values())
    assert result.primary == result.metrics["map50_95"]
    assert result.train_time_s > 0 and result.images_per_s > 0


def test_on_epoch_returning_true_stops_training(digits_detect: Path, tiny: TrainConfig) -> None:
    tiny.epochs = 3
    result = fit_detection(_model(), digits_detect, tiny, on_epoch=lambda epoch, metrics: True)
    assert result.epochs == 1 and len(result.history) == 1 and result.stopped_early


def test_a_stop_is_early_only_before_the_last_epoch(digits_detect: Path, tiny: TrainConfig) -> None:
    tiny.epochs = 3
    after_two = fit_detection(_model(), digits_detect, tiny, on_epoch=lambda epoch, metrics: epoch == 1)
    assert after_two.epochs == 2 and after_two.stopped_early
    at_the_end = fit_detection(_model(), digits_detect, tiny, on_epoch=lambda epoch, metrics: epoch == 2)
    assert at_the_end.epochs == 3 and not at_the_end.stopped_early
    unwatched = fit_detection(_model(), digits_detect, tiny)  # no callback: nothing asks to stop
    assert unwatched.epochs == 3 and not unwatched.stopped_early


def test_without_val_only_the_last_epoch_is_validated(digits_detect: Path, tiny: TrainConfig) -> None:
    """``val=False`` (the cached baseline's) skips the intermediate validations, not epochs or images."""
    tiny.epochs, calls = 2, []
    last = fit_detection(_model(), digits_detect, replace(tiny, val=False), on_epoch=lambda e, m: calls.append(e))
    every = fit_detection(_model(), digits_detect, tiny)
    assert calls == [1] and len(last.history) == 1 and len(every.history) == 2
    assert last.epochs == every.epochs == 2 and last.images == every.images > 0
    assert last.metrics.keys() == every.metrics.keys()


def test_model_holds_the_ema_weights_afterwards(
    digits_detect: Path, tiny: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = {}
    on_fit_end = TrialModule.on_fit_end

    def spy(self: TrialModule) -> None:
        trained.update({k: v.clone() for k, v in self.model.state_dict().items()})
        on_fit_end(self)

    monkeypatch.setattr(TrialModule, "on_fit_end", spy)
    model = _model()
    module = DetectionModule(model, digits_detect, tiny)
    fit(module, tiny)
    final, ema = model.state_dict(), module.ema.ema.state_dict()
    assert all(torch.equal(final[k].cpu(), ema[k].cpu()) for k in final)
    assert any(not torch.equal(final[k].cpu(), trained[k].cpu()) for k in final if final[k].is_floating_point())


def test_a_model_for_other_classes_is_refused(digits_detect: Path, tiny: TrainConfig) -> None:
    with pytest.raises(DatasetError, match="10 classes, the model 3"):
        fit_detection(_model(nc=3), digits_detect, tiny)


def test_corrupt_image_and_missing_label_are_named(digits_detect: Path, tiny: TrainConfig, tmp_path: Path) -> None:
    root = tmp_path / "broken"
    shutil.copytree(digits_detect.parent, root, ignore=shutil.ignore_patterns("*.cache"))
    data = yaml.safe_load((root / "data.yaml").read_text())
    (root / "data.yaml").write_text(yaml.safe_dump({**data, "path": str(root)}))
    (root / "images" / "train" / "00003.png").write_bytes(b"not a png")
    (root / "labels" / "train" / "00005.txt").unlink()
    with pytest.raises(DatasetError) as error:
        fit_detection(_model(), root / "data.yaml", tiny)
    assert "00003.png" in str(error.value) and "00005.txt" in str(error.value)


def test_missing_data_is_named(tiny: TrainConfig, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nowhere\.yaml"):
        fit_detection(_model(), tmp_path / "nowhere.yaml", tiny)


@pytest.mark.parametrize("classes", [None, [f"digit {i}" for i in range(10)]])
def test_a_yolo_folder_without_yaml_is_read(classes: list[str] | None, digits_detect: Path, tmp_path: Path) -> None:
    root = tmp_path / "folder"
    shutil.copytree(digits_detect.parent, root, ignore=shutil.ignore_patterns("*.cache", "data.yaml"))
    if classes:
        (root / "classes.txt").write_text("\n".join(classes))
    data = detection_data(root)
    assert data["nc"] == 10 and list(data["names"].values()) == (classes or [str(i) for i in range(10)])
    assert Path(data["train"]) == root.resolve() / "images" / "train"
