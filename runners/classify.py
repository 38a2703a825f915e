"""Classification trials: a torchvision ResNet on an image folder, top-1 accuracy of the EMA weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.data import ClassificationDataset

from runners.config import TrainConfig
from runners.data.checks import DatasetError, check_classification_split, classification_data
from runners.fit import Progress, fit
from runners.module import EpochCallback, TrialModule
from runners.result import TrialResult


class ClassificationModule(TrialModule):
    """Ultralytics' classification data pipeline and augmentations, cross-entropy, top-1 and top-5 of the EMA."""

    primary = "top1"
    task = "classify"

    def __init__(
        self, model: nn.Module, data: str | Path, cfg: TrainConfig, on_epoch: EpochCallback | None = None
    ) -> None:
        """Resolve and check ``data`` against the model's classifier before any training starts."""
        super().__init__(model, cfg, on_epoch)
        self.data = classification_data(data)
        classes = getattr(getattr(model, "fc", None), "out_features", self.data["nc"])
        if classes != self.data["nc"]:
            raise DatasetError(f"data {str(data)!r} has {self.data['nc']} classes, the model {classes}")

    def build_datasets(self, batch: int) -> tuple[Any, Any]:
        """Augmented train split and resized val split, classes aligned by folder name."""
        sets = {
            split: ClassificationDataset(
                self.data[split], self.args, augment=split == "train", prefix=split, names=self.data["names"]
            )
            for split in ("train", "val")
        }
        for split, dataset in sets.items():
            check_classification_split(dataset, split)
        return sets["train"], sets["val"]

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean cross-entropy, as ultralytics' classification loss."""
        loss = nn.functional.cross_entropy(self.model(batch["img"]), batch["cls"])
        return loss, {"loss": loss.detach()}

    def reset_metrics(self) -> None:
        """Zero the counts of correct predictions."""
        self.counts = torch.zeros(3, device=self.device)  # top-1 correct, top-5 correct, seen

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Count top-1 and top-5 hits of one val batch."""
        logits = self.ema.ema(batch["img"])
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices == batch["cls"][:, None]
        self.counts += torch.stack([top[:, 0].sum(), top.any(1).sum(), torch.tensor(len(top), device=self.device)])

    def compute_metrics(self) -> dict[str, float]:
        """Top-1 and top-5 accuracy."""
        top1, top5, seen = self.counts.tolist()
        return {"top1": top1 / seen, "top5": top5 / seen}


def fit_classification(
    model: nn.Module,
    data: str | Path,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    loggers: Any = None,
    progress: Progress = "bar",
    label: str = "",
) -> TrialResult:
    """Train a torchvision ResNet (or any classifier with a ``fc`` head); validate after every epoch (or the last).

    Args:
        model: The (placed) classifier, trained in place; it holds the EMA weights afterwards.
        data: An image folder with ``train/`` and ``val/`` class subfolders.
        cfg: Training settings.
        on_epoch: ``on_epoch(epoch, metrics) -> bool`` after each validation; True stops training.
        loggers: Lightning loggers, or None.
        progress: ``bar``, ``lines`` (one per epoch, for log files) or ``none`` (see ``runners.fit.fit``).
        label: What the progress bar and lines start with, e.g. ``trial 3``.

    Returns:
        The final and per-epoch top-1 and top-5 accuracy, epochs run, time and throughput.

    Raises:
        DatasetError: The data is missing, corrupt or does not match the model's classes.
    """
    return fit(ClassificationModule(model, data, cfg, on_epoch), cfg, loggers, progress, label)
