"""Detection trials: an ultralytics ``DetectionModel`` trained and validated with ultralytics' own pieces."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from copy import copy
from pathlib import Path
from typing import Any

import torch
from ultralytics.data import build_dataloader, build_yolo_dataset
from ultralytics.models.yolo.detect import DetectionValidator
from ultralytics.nn.tasks import DetectionModel

from runners.config import TrainConfig
from runners.data.checks import DatasetError, check_detection_split, detection_data
from runners.fit import Progress, fit
from runners.module import EpochCallback, TrialModule
from runners.result import TrialResult
from runners.seams import start_validation


class DetectionModule(TrialModule):
    """YOLO data pipeline and loss (``model.init_criterion()``), DetectionValidator's NMS and mAP on the EMA."""

    primary = "map50_95"
    task = "detect"

    def __init__(
        self, model: DetectionModel, data: str | Path, cfg: TrainConfig, on_epoch: EpochCallback | None = None
    ) -> None:
        """Resolve and check ``data`` against the model's head before any training starts."""
        super().__init__(model, cfg, on_epoch)
        self.data = detection_data(data)
        if model.model[-1].nc != self.data["nc"]:
            raise DatasetError(f"data {str(data)!r} has {self.data['nc']} classes, the model {model.model[-1].nc}")
        model.nc, model.names, model.args = self.data["nc"], self.data["names"], self.args  # what the loss reads
        self.stride = max(int(model.stride.max()), 32)
        self.validator = DetectionValidator(args=self.args, save_dir=Path(tempfile.gettempdir()))  # writes nothing

    def build_datasets(self, batch: int) -> tuple[Any, Any]:
        """Augmented train split and rectangular val split, as ``yolo train`` builds them."""
        sets = {
            split: build_yolo_dataset(
                self.args, self.data[split], size, self.data, mode=split, rect=split == "val", stride=self.stride
            )
            for split, size in (("train", batch), ("val", batch * 2))
        }
        for split, dataset in sets.items():
            check_detection_split(dataset, split)
        return sets["train"], sets["val"]

    def on_fit_start(self) -> None:
        """Build the loss on the device, then the EMA."""
        self.model.criterion = self.model.init_criterion()
        super().on_fit_start()

    def on_train_epoch_start(self) -> None:
        """Turn mosaic off for the last ``close_mosaic`` epochs, as ultralytics does."""
        super().on_train_epoch_start()
        if self.args.close_mosaic and self.current_epoch == max(self.cfg.epochs - self.args.close_mosaic, 0):
            self.train_set.close_mosaic(hyp=copy(self.args))
            self.train_loader.reset()

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Scale uint8 images to [0, 1] on the device."""
        batch["img"] = batch["img"].float() / 255
        return batch

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Ultralytics' loss of the model's head (E2E heads of v10/26 included)."""
        loss, items = self.model.loss(batch)
        return loss.sum(), items

    def on_train_epoch_end(self) -> None:
        """Advance the end-to-end loss' one-to-many/one-to-one weighting, as ultralytics does each epoch."""
        super().on_train_epoch_end()
        if hasattr(self.model.criterion, "update"):
            self.model.criterion.update()

    def reset_metrics(self) -> None:
        """Point the validator at this device and the EMA; NMS-free heads validate as in ``yolo train``."""
        start_validation(self.validator, self.ema.ema, self.device, self.data)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """NMS and matching of one val batch."""
        preds = self.validator.postprocess(self.ema.ema(batch["img"]))
        self.validator.update_metrics(preds, batch)

    def compute_metrics(self) -> dict[str, float]:
        """mAP50-95, mAP50, precision, recall and AP50-95 of each class present in the val split."""
        stats = self.validator.get_stats()
        box = self.validator.metrics.box
        per_class = {
            f"ap50_95/{self.data['names'][int(c)]}": float(ap) for c, ap in zip(box.ap_class_index, box.ap, strict=True)
        }
        return {
            "map50_95": stats["metrics/mAP50-95(B)"],
            "map50": stats["metrics/mAP50(B)"],
            "precision": stats["metrics/precision(B)"],
            "recall": stats["metrics/recall(B)"],
            **per_class,
        }


def fit_detection(
    model: DetectionModel,
    data: str | Path,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    loggers: Any = None,
    progress: Progress = "bar",
    label: str = "",
) -> TrialResult:
    """Train an ultralytics detection model and validate it after every epoch (the last only if ``cfg.val`` is off).

    Args:
        model: The (placed) detection model, trained in place; it holds the EMA weights afterwards.
        data: An ultralytics dataset YAML or a YOLO-format folder.
        cfg: Training settings.
        on_epoch: ``on_epoch(epoch, metrics) -> bool`` after each validation; True stops training.
        loggers: Lightning loggers, or None.
        progress: ``bar``, ``lines`` (one per epoch, for log files) or ``none`` (see ``runners.fit.fit``).
        label: What the progress bar and lines start with, e.g. ``trial 3``.

    Returns:
        The final and per-epoch metrics, epochs run, time and throughput.

    Raises:
        DatasetError: The data is missing, corrupt or does not match the model's classes.
    """
    return fit(DetectionModule(model, data, cfg, on_epoch), cfg, loggers, progress, label)


def eval_device(cfg: TrainConfig) -> torch.device:
    """Where a one-off evaluation of a model runs: the first GPU when the trainer may use one and there is one."""
    return torch.device("cuda" if cfg.accelerator in ("auto", "gpu") and torch.cuda.is_available() else "cpu")


def val_batches(model: DetectionModel, data: str | Path, cfg: TrainConfig) -> tuple[DetectionModule, Iterator[Any]]:
    """For a one-off evaluation of ``model`` (moved to ``eval_device``, in eval mode): its module and the validation
    split's batches on that device, read and letterboxed as a trial validates (``cfg.imgsz``)."""
    module = DetectionModule(model, data, cfg)
    _, val_set = module.build_datasets(cfg.batch)
    loader = build_dataloader(val_set, cfg.batch * 2, 0, shuffle=False, rank=-1)
    device = eval_device(cfg)
    model.to(device).eval()
    start_validation(module.validator, model, device, module.data)
    batches = (module.on_after_batch_transfer(module.transfer_batch_to_device(b, device, 0), 0) for b in loader)
    return module, batches


@torch.no_grad()
def validation_stats(model: DetectionModel, data: str | Path, cfg: TrainConfig) -> dict[str, list[Any]]:
    """Ultralytics' matching statistics of ``model`` on the validation split of ``data``, one entry per image.

    Keys as ``DetMetrics.stats`` (``tp``: the (predictions, 10) true-positive matrix over IoU 0.5:0.95, ``conf``,
    ``pred_cls``, ``target_cls``, ``target_img``), validated as a trial validates: the val split letterboxed at
    ``cfg.imgsz``, NMS at ultralytics' validation thresholds. ``ultralytics.utils.metrics.ap_per_class`` over all of
    them gives the trial's mAP; over a resample of the images, that of another validation split of the kind.
    """
    module, batches = val_batches(model, data, cfg)
    for batch in batches:
        module.validator.update_metrics(module.validator.postprocess(model(batch["img"])), batch)
    return {k: list(v) for k, v in module.validator.metrics.stats.items()}
