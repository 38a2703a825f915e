"""What a trial returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrialResult:
    """The outcome of one training run.

    Attributes:
        metrics: Validation metrics of the last epoch: ``map50_95``, ``map50``, ``precision``, ``recall`` and
            ``ap50_95/<class>`` per class present in the val split (detection), or ``top1`` and ``top5``
            (classification).
        primary: The metric a search compares: ``map50_95`` or ``top1``.
        epochs: Epochs run (fewer than configured when stopped early).
        train_time_s: Wall time of the whole fit: setup, training and validation.
        images_per_s: Training images per second of training (validation excluded).
        images: Training images processed, over all devices.
        stopped_early: Whether the epoch callback stopped the run.
        history: Validation metrics of every validated epoch (every epoch unless ``val`` is off), in order.
    """

    metrics: dict[str, float]
    primary: float
    epochs: int
    train_time_s: float
    images_per_s: float
    stopped_early: bool
    images: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
