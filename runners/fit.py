"""Run a trial module under Lightning's Trainer and summarise it."""

from __future__ import annotations

import sys
import time
import warnings
from typing import TYPE_CHECKING, Any, Literal, get_args

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from tqdm import tqdm

from runners.config import TrainConfig
from runners.result import TrialResult
from runners.seams import fit_or_interrupt

if TYPE_CHECKING:
    from runners.module import TrialModule

Progress = Literal["bar", "lines", "none"]


def fit(
    module: TrialModule, cfg: TrainConfig, loggers: Any = None, progress: Progress = "bar", label: str = ""
) -> TrialResult:
    """Seed, train ``module`` for ``cfg.epochs`` (or until its callback stops it) and collect the result.

    Args:
        module: The detection or classification trial.
        cfg: Training settings (epochs, precision, devices, seed).
        loggers: Lightning loggers, or None for none.
        progress: ``bar``: Lightning's progress bars on stderr, below any bar already drawn, cleared when training
            ends; ``lines``: one line per epoch on stderr (for log files); ``none``: nothing.
        label: What the bar and the lines start with, e.g. ``trial 3``.

    Returns:
        The trial's metrics, history, time and throughput.
    """
    if progress not in get_args(Progress):
        raise ValueError(f"progress: {progress!r}; valid: {', '.join(get_args(Progress))}")
    callbacks = {"bar": [TrialBar(label)], "lines": [EpochLines(label)], "none": []}[progress]
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=cfg.lightning_precision(),
        logger=loggers or False,
        enable_checkpointing=False,
        callbacks=callbacks,
        enable_progress_bar=progress == "bar",
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=1 if cfg.val else cfg.epochs,
        use_distributed_sampler=False,  # ultralytics' loaders shard the training split themselves
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")  # workers=0 on CPU is deliberate
        fit_or_interrupt(trainer, module)  # Ctrl-C or SIGTERM: KeyboardInterrupt
    images = module.images_seen * trainer.world_size
    return TrialResult(
        metrics=module.history[-1],
        primary=module.history[-1][module.primary],
        epochs=trainer.current_epoch,  # epochs completed; history has one entry per validated epoch
        train_time_s=time.perf_counter() - start,
        images_per_s=images / max(module.train_seconds, 1e-9),
        stopped_early=module.stopped_early,
        images=images,
        history=module.history,
    )


class TrialBar(TQDMProgressBar):
    """Lightning's training and validation bars on stderr, each in the first free row (under a caller's own bar, such
    as a search's), cleared when done, and described as ``<label> epoch 2/3``."""

    def __init__(self, label: str = "") -> None:
        super().__init__()
        self.label = label

    def init_train_tqdm(self) -> tqdm:
        return self._bar(self.train_description, smoothing=0)

    def init_validation_tqdm(self) -> tqdm:
        return self._bar(self.validation_description)

    def _bar(self, desc: str, **kwargs: Any) -> tqdm:
        return tqdm(
            desc=desc,
            disable=self.is_disabled,
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
            bar_format=self.BAR_FORMAT,
            **kwargs,
        )

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(_epoch(self.label, trainer))


class EpochLines(Callback):
    """One line per epoch on stderr, after its validation: ``<label> epoch 2/3: map50_95 0.3923, 14.2 s`` (the
    epoch's training and validation time); ``<label> epoch 2/30: 10.1 s`` after an epoch without validation."""

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.start = 0.0
        self.validated = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: TrialModule) -> None:
        self.start, self.validated = time.perf_counter(), len(pl_module.history)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: TrialModule) -> None:
        if trainer.is_global_zero:
            metric, seconds = pl_module.primary, time.perf_counter() - self.start
            score = f" {metric} {pl_module.history[-1][metric]:.4f}," if len(pl_module.history) > self.validated else ""
            print(f"{_epoch(self.label, trainer)}:{score} {seconds:.1f} s", file=sys.stderr, flush=True)


def _epoch(label: str, trainer: L.Trainer) -> str:
    return f"{label} epoch {trainer.current_epoch + 1}/{trainer.max_epochs}".lstrip()
