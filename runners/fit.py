"""Run a trial module under Lightning's Trainer and summarise it."""

from __future__ import annotations

import signal
import time
import warnings
from typing import TYPE_CHECKING, Any

import lightning as L

from runners.config import TrainConfig
from runners.result import TrialResult

if TYPE_CHECKING:
    from runners.module import TrialModule


def fit(module: TrialModule, cfg: TrainConfig, loggers: Any = None) -> TrialResult:
    """Seed, train ``module`` for ``cfg.epochs`` (or until its callback stops it) and collect the result.

    Args:
        module: The detection or classification trial.
        cfg: Training settings (epochs, precision, devices, seed).
        loggers: Lightning loggers, or None for none.

    Returns:
        The trial's metrics, history, time and throughput.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=cfg.lightning_precision(),
        logger=loggers or False,
        enable_checkpointing=False,
        enable_progress_bar=True,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # ultralytics' loaders shard the training split themselves
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")  # workers=0 on CPU is deliberate
        try:
            trainer.fit(module)
        except SystemExit:
            if not trainer.interrupted:
                raise
            # Lightning answers Ctrl-C or SIGTERM inside fit with exit(1) and ignores SIGINT from then on; the caller
            # gets the interrupt instead, to record the trial and stop cleanly.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt("training interrupted") from None
    images = module.images_seen * trainer.world_size
    return TrialResult(
        metrics=module.history[-1],
        primary=module.history[-1][module.primary],
        epochs=len(module.history),
        train_time_s=time.perf_counter() - start,
        images_per_s=images / max(module.train_seconds, 1e-9),
        stopped_early=module.stopped_early,
        images=images,
        history=module.history,
    )
