"""Training settings of one trial, with defaults sized for a short run on a CPU."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg
from ultralytics.utils import IterableSimpleNamespace

from runners.seams import OPTIMIZERS

# Our own settings; every other field is an ultralytics training argument of the same name and meaning.
_LIGHTNING = ("ema", "grad_clip", "precision", "accelerator", "devices", "strategy", "overrides")
# What Lightning's Trainer accepts for precision and accelerator (ultralytics' optimizers: runners.seams.OPTIMIZERS).
PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true", "fsdp", "deepspeed", "single_device")
FRACTIONS = (
    "lrf", "momentum", "warmup_momentum", "mosaic", "mixup", "hsv_h", "hsv_s", "hsv_v", "translate", "fliplr", "flipud",
)  # fmt: skip


class ConfigError(ValueError):
    """A training setting out of range; the message names the field, the value and what is valid."""


@dataclass
class TrainConfig:
    """Training settings of one trial (Hydra group ``trainer``).

    Fields named like ultralytics' training arguments mean what they mean there (https://docs.ultralytics.com/usage/cfg)
    and reach its dataset, augmentations, loss and optimizer unchanged; ``overrides`` passes any other ultralytics
    argument (e.g. ``{"copy_paste": 0.1}``). The defaults are ultralytics' but for what a trial, a few epochs of
    fine-tuning trained weights on a CPU, needs (``conf/trainer/default.yaml`` is the same): imgsz 160, AdamW at lr
    5e-5 without warm-up (a from-scratch schedule, such as the search's baseline's, sets ``lr0=0.002`` and
    ``warmup_epochs=3``), ``nbs`` equal to ``batch`` (no gradient accumulation: short trials need optimizer steps), and
    no horizontal flips (the default digits data must not be mirrored; 0.5 suits natural images).

    Attributes:
        epochs: Training epochs (a callback may stop earlier).
        imgsz: Train and val image size.
        batch: Images per optimizer step, over all devices.
        optimizer: ``auto`` or one of ultralytics' optimizers (SGD, MuSGD, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop).
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
        val: Validate after every epoch; False: after the last one only (ultralytics' ``val``), for a training whose
            intermediate scores nobody reads, such as the cached baseline's.
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
    lr0: float = 0.00005
    lrf: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 0.0005
    warmup_epochs: float = 0.0
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
    val: bool = True
    ema: bool = True
    grad_clip: float = 10.0
    precision: str = "auto"
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    overrides: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``ConfigError`` naming the first setting out of range, before anything is built or trained."""
        for name, low in (("epochs", 1), ("imgsz", 32), ("batch", 1), ("nbs", 1), ("workers", 0), ("close_mosaic", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name}: {value!r}; valid: an integer of at least {low}")
        for name in ("lr0", "weight_decay", "warmup_epochs", "warmup_bias_lr", "degrees", "scale", "grad_clip"):
            value = getattr(self, name)
            if not _number(value) or value < 0 or (name == "lr0" and value == 0):
                raise ConfigError(f"{name}: {value!r}; valid: a number {'above' if name == 'lr0' else 'of at least'} 0")
        for name in (*FRACTIONS, "fraction"):
            value = getattr(self, name)
            if not _number(value) or not 0 <= value <= 1 or (name in ("fraction", "lrf") and value == 0):
                raise ConfigError(
                    f"{name}: {value!r}; valid: a fraction in {'(0, 1]' if name in ('fraction', 'lrf') else '[0, 1]'}"
                )
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed: {self.seed!r}; valid: an integer in [0, 2^32)")
        if self.cache not in (False, True, "ram", "disk"):
            raise ConfigError(f"cache: {self.cache!r}; valid: false, ram, disk")
        if str(self.optimizer).lower() not in {o.lower() for o in OPTIMIZERS}:  # ultralytics ignores the case
            raise ConfigError(f"optimizer: {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        for name, valid in (("precision", PRECISIONS), ("accelerator", ACCELERATORS)):
            if getattr(self, name) not in valid:
                raise ConfigError(f"{name}: {getattr(self, name)!r}; valid: {', '.join(valid)}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy: {self.strategy!r}; valid: {', '.join(STRATEGIES)} (not a spawning one)")
        self._check_devices()
        unknown = sorted(set(self.overrides) - set(DEFAULT_CFG_DICT))
        if unknown:
            raise ConfigError(
                f"overrides: unknown ultralytics argument {unknown[0]!r}; see docs.ultralytics.com/usage/cfg"
            )

    def _check_devices(self) -> None:
        """Devices the machine has: CUDA devices on a GPU accelerator, CPU processes (at most the cores) on a CPU."""
        cuda = self.accelerator in ("gpu", "cuda") or (self.accelerator == "auto" and torch.cuda.is_available())
        if self.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
            raise ConfigError(
                f"accelerator: {self.accelerator!r} but this machine has no CUDA device; valid: auto, cpu"
            )
        have = torch.cuda.device_count() if cuda else os.cpu_count() or 1
        kind = "CUDA devices" if cuda else "CPU cores"
        devices = self.devices
        if devices == "auto" or devices == -1:
            return
        if isinstance(devices, int) and not isinstance(devices, bool):
            if not 1 <= devices <= have:
                raise ConfigError(f"devices: {devices!r}; valid: auto, -1 or 1 to {have} (this machine's {kind})")
            return
        if isinstance(devices, list) and devices and all(isinstance(d, int) for d in devices):
            if cuda and all(0 <= d < have for d in devices) and len(set(devices)) == len(devices):
                return
            raise ConfigError(
                f"devices: {devices!r}; valid: distinct CUDA indices in 0..{have - 1}"
                if cuda
                else f"devices: {devices!r}; valid: auto or a count of CPU processes (1 to {have})"
            )
        raise ConfigError(f"devices: {devices!r}; valid: auto, a count (1 to {have}) or a list of CUDA indices")

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


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
