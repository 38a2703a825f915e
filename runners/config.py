"""Training settings of one trial, with defaults sized for a short run on a CPU."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from ultralytics.cfg import get_cfg
from ultralytics.utils import IterableSimpleNamespace

# Our own settings; every other field is an ultralytics training argument of the same name and meaning.
_LIGHTNING = ("ema", "grad_clip", "precision", "accelerator", "devices", "strategy", "overrides")


@dataclass
class TrainConfig:
    """Training settings of one trial (Hydra group ``trainer``).

    Fields named like ultralytics' training arguments mean what they mean there (https://docs.ultralytics.com/usage/cfg)
    and reach its dataset, augmentations, loss and optimizer unchanged; ``overrides`` passes any other ultralytics
    argument (e.g. ``{"copy_paste": 0.1}``). The defaults are ultralytics' but for what a few epochs on a CPU need:
    imgsz 160, AdamW at lr 0.002 rather than ``auto`` (whose fitted lr is too low for a short run), ``nbs`` equal to
    ``batch`` (no gradient accumulation: short trials need optimizer steps), one warm-up epoch, and no horizontal flips
    (the default digits data must not be mirrored; 0.5 suits natural images).

    Attributes:
        epochs: Training epochs (a callback may stop earlier).
        imgsz: Train and val image size.
        batch: Images per optimizer step, over all devices.
        optimizer: ``auto`` or one of ultralytics' optimizers (SGD, MuSGD, Adam, Adamax, AdamW, NAdam, RAdam, RMSProp).
        lr0: Initial learning rate (``auto`` chooses its own).
        lrf: Final learning rate as a fraction of ``lr0``.
        momentum: SGD momentum or Adam beta1.
        weight_decay: Weight decay, scaled by ``batch / nbs`` as in ultralytics.
        warmup_epochs: Epochs of linear warm-up of the learning rate, momentum and accumulation.
        warmup_momentum: Momentum at the start of warm-up.
        warmup_bias_lr: Bias learning rate at the start of warm-up.
        cos_lr: Cosine instead of linear learning-rate decay.
        nbs: Nominal batch size: gradients accumulate over ``round(nbs / batch)`` batches.
        close_mosaic: Turn mosaic off for the last N epochs.
        mosaic: Mosaic probability.
        mixup: MixUp probability.
        hsv_h: Hue augmentation fraction.
        hsv_s: Saturation augmentation fraction.
        hsv_v: Value augmentation fraction.
        degrees: Rotation range in degrees.
        translate: Translation fraction.
        scale: Scale gain.
        fliplr: Horizontal flip probability.
        flipud: Vertical flip probability.
        fraction: Fraction (or count, if > 1) of the training images used.
        cache: Cache decoded images: False, ``ram`` or ``disk``.
        workers: Dataloader workers per device (0 on CPU, like ultralytics).
        seed: Seed of weights-independent randomness: data order, augmentations.
        ema: Validate and return the exponential moving average of the weights (ultralytics' ModelEMA).
        grad_clip: Gradient-norm clipping threshold (0 disables).
        precision: Lightning precision (``32-true``, ``bf16-mixed``, ``16-mixed``) or ``auto``: ``16-mixed`` on CUDA
            like ultralytics' AMP, ``32-true`` elsewhere.
        accelerator: Lightning accelerator (``auto``, ``cpu``, ``gpu``).
        devices: Lightning devices (``auto``, a count or a list of indices).
        strategy: Lightning strategy: ``auto`` or ``ddp`` for several devices (not a spawning one: the trial's
            history lives in the launching process).
        overrides: Any other ultralytics training argument.
    """

    epochs: int = 3
    imgsz: int = 160
    batch: int = 16
    optimizer: str = "AdamW"
    lr0: float = 0.002
    lrf: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 0.0005
    warmup_epochs: float = 1.0
    warmup_momentum: float = 0.8
    warmup_bias_lr: float = 0.1
    cos_lr: bool = False
    nbs: int = 16
    close_mosaic: int = 10
    mosaic: float = 1.0
    mixup: float = 0.0
    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    degrees: float = 0.0
    translate: float = 0.1
    scale: float = 0.5
    fliplr: float = 0.0
    flipud: float = 0.0
    fraction: float = 1.0
    cache: bool | str = False
    workers: int = 8
    seed: int = 0
    ema: bool = True
    grad_clip: float = 10.0
    precision: str = "auto"
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    overrides: dict[str, Any] = field(default_factory=dict)

    def ultralytics_overrides(self) -> dict[str, Any]:
        """These settings as ultralytics training arguments, with plots off."""
        ours = {k: v for k, v in asdict(self).items() if k not in _LIGHTNING}
        return {**ours, **self.overrides, "plots": False}

    def ultralytics_args(self, **extra: Any) -> IterableSimpleNamespace:
        """Ultralytics' validated argument namespace of these settings, updated by ``extra``."""
        return get_cfg(overrides={**self.ultralytics_overrides(), **extra})

    def lightning_precision(self) -> str:
        """The Lightning precision string, with ``auto`` resolved."""
        if self.precision != "auto":
            return self.precision
        cuda = self.accelerator in {"auto", "gpu", "cuda"} and torch.cuda.is_available()
        return "16-mixed" if cuda else "32-true"
