"""Ultralytics' training recipe in a LightningModule: what every trial shares, whatever the task.

The optimizer, learning-rate schedule and warm-up iteration count are ultralytics' own (``BaseTrainer`` methods called
on a small namespace holding what they read, in ``runners.seams``), so ``optimizer=auto`` picks what ``yolo train``
would. Lightning runs the loops; the optimisation is manual because ultralytics ramps gradient accumulation, learning
rates and momentum per iteration during warm-up and updates the EMA after each optimizer step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from ultralytics.data import build_dataloader
from ultralytics.utils.torch_utils import ModelEMA

from runners.config import TrainConfig
from runners.seams import training_recipe

EpochCallback = Callable[[int, dict[str, float]], bool]
LOG_EVERY = 10  # batches between logged training losses: a Lightning log call costs about 1 ms a key


LR_MULT = "lr_mult"  # a parameter's attribute: its learning rate is the group's times this (e.g. new layers)


def scale_marked(optimizer: torch.optim.Optimizer) -> None:
    """Move parameters that carry ``lr_mult`` into groups of their own whose learning rate is scaled by it.

    Each new group keeps its source group's other settings (weight decay, the ``param_group`` kind warm-up reads), so
    ultralytics' warm-up and schedule treat it like its source, at the scaled rate.
    """
    for group in list(optimizer.param_groups):
        marked: dict[float, list[nn.Parameter]] = {}
        for p in group["params"]:
            mult = getattr(p, LR_MULT, 1.0)
            if mult != 1.0:
                marked.setdefault(float(mult), []).append(p)
        if not marked:
            continue
        moved = {id(p) for params in marked.values() for p in params}
        group["params"] = [p for p in group["params"] if id(p) not in moved]
        settings = {k: v for k, v in group.items() if k != "params"}
        for mult, params in marked.items():
            optimizer.add_param_group({**settings, "params": params, "lr": group["lr"] * mult})


class TrialModule(L.LightningModule):
    """Trains ``model`` like ultralytics and reports validation metrics after every epoch.

    Subclasses set ``data`` (ultralytics' data dict, with ``nc`` and ``names``) and build the datasets, compute the loss
    of a batch and the validation metrics of the EMA model.

    Attributes:
        model: The network being trained; holds the EMA weights after ``on_fit_end``.
        history: Validation metrics of every epoch so far.
        stopped_early: Whether ``on_epoch`` stopped the run before its last epoch.
        train_seconds: Time spent in training batches (data loading included, validation excluded).
        images_seen: Training images processed on this device.
    """

    primary: str  # the metric a search compares
    task: str  # ultralytics task of the data pipeline

    def __init__(self, model: nn.Module, cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> None:
        """Wrap ``model``; nothing is built until Lightning calls ``setup``.

        Args:
            model: The network to train in place.
            cfg: Training settings.
            on_epoch: Called on global rank 0 as ``on_epoch(epoch, metrics)`` after each validation (epoch counts from
                0); returning True stops training after that epoch.
        """
        super().__init__()
        self.save_hyperparameters(asdict(cfg))
        self.model = model
        self.cfg = cfg
        self.args = cfg.ultralytics_args(task=self.task)
        self.on_epoch = on_epoch
        self.history: list[dict[str, float]] = []
        self.stopped_early = False
        self.train_seconds = 0.0
        self.images_seen = 0
        self.automatic_optimization = False

    def build_datasets(self, batch: int) -> tuple[Any, Any]:
        """The checked train and val datasets, ``batch`` being the per-device batch size."""
        raise NotImplementedError

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to back-propagate and its named, detached components."""
        raise NotImplementedError

    def reset_metrics(self) -> None:
        """Start accumulating validation metrics of ``self.ema.ema``."""
        raise NotImplementedError

    def compute_metrics(self) -> dict[str, float]:
        """The validation metrics accumulated since ``reset_metrics``."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        """Build the data and, with the model still on the CPU, ultralytics' optimizer and schedule.

        Built before the model moves, the optimizer is never a fused one, which Lightning cannot clip under 16-mixed.
        """
        world, device = self.trainer.world_size, self.trainer.strategy.root_device
        batch = self.cfg.batch // world
        workers = 0 if device.type == "cpu" else self.cfg.workers  # as ultralytics: on CPU the model takes the time
        self.train_set, self.val_set = self.build_datasets(batch)
        rank = self.global_rank if world > 1 else -1
        self.train_loader = build_dataloader(self.train_set, batch, workers, shuffle=True, rank=rank, device=device)
        # every rank validates the whole split, so metrics and stop decisions agree everywhere
        self.val_loader = build_dataloader(self.val_set, batch * 2, workers * 2, shuffle=False, device=device)
        for name, p in self.model.named_parameters():  # ultralytics trains everything but the fixed DFL projection
            p.requires_grad_(".dfl" not in name)
        nb, nbs, epochs = len(self.train_loader), self.cfg.nbs, self.cfg.epochs
        accumulate = max(round(nbs / self.cfg.batch), 1)
        self.nominal_accumulate = self.accumulate = min(accumulate, nb * epochs)
        self.recipe = training_recipe(
            self.model,
            self.args,
            self.data,
            epochs,
            nb,
            decay=self.args.weight_decay * self.cfg.batch * accumulate / nbs,
            iterations=math.ceil(len(self.train_set) / max(self.cfg.batch, nbs)) * epochs,
            regroup=scale_marked,
        )
        self.warmup_iterations = self.recipe.warmup_iterations
        self.last_step = -1

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """The optimizer built in ``setup``."""
        return self.recipe.optimizer

    def transfer_batch_to_device(self, batch: dict[str, Any], device: torch.device, dataloader_idx: int) -> Any:
        """Move the batch's tensors only (Lightning would walk every file name and shape in it)."""
        return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}

    def train_dataloader(self) -> Any:
        """Ultralytics' infinite loader with its augmentations and collate."""
        return self.train_loader

    def val_dataloader(self) -> Any:
        """Ultralytics' val loader (letterboxed, no augmentation)."""
        return self.val_loader

    def on_fit_start(self) -> None:
        """Start the EMA on the device (decay 0 when EMA is off: the copy then follows the weights)."""
        self.ema = ModelEMA(self.model, decay=0.9999 if self.cfg.ema else 0.0)

    def on_fit_end(self) -> None:
        """Leave the EMA weights in the model."""
        self.model.load_state_dict(self.ema.ema.state_dict())

    def on_train_epoch_start(self) -> None:
        """Start the epoch clock."""
        self.epoch_start = time.perf_counter()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """One forward and backward pass; an optimizer and EMA step every ``accumulate`` batches."""
        optimizer = self.optimizers()
        ni = batch_idx + len(self.train_loader) * self.current_epoch  # iterations so far, as ultralytics counts them
        if self.warmup_iterations and ni <= self.warmup_iterations:
            self.warm_up(optimizer.optimizer, ni)
        loss, items = self.loss(batch)
        self.manual_backward(loss * self.trainer.world_size)  # DDP averages gradients; ultralytics sums them
        if ni - self.last_step >= self.accumulate:
            optimizer.step()
            optimizer.zero_grad()
            self.ema.update(self.model)
            self.last_step = ni
        self.images_seen += batch["img"].shape[0]
        if batch_idx % LOG_EVERY == 0:
            self.log_dict({f"train/{k}": v for k, v in items.items()}, prog_bar=True, batch_size=batch["img"].shape[0])

    def warm_up(self, optimizer: torch.optim.Optimizer, ni: int) -> None:
        """Ultralytics' warm-up: accumulation from 1, bias lr down from ``warmup_bias_lr``, other lrs up from 0."""
        xi, epoch_lr = [0, self.warmup_iterations], self.recipe.lf(self.current_epoch)
        self.accumulate = max(1, int(np.interp(ni, xi, [1, self.nominal_accumulate]).round()))
        for group in optimizer.param_groups:
            start = self.args.warmup_bias_lr if group.get("param_group") == "bias" else 0.0
            group["lr"] = float(np.interp(ni, xi, [start, group["initial_lr"] * epoch_lr]))
            if "momentum" in group:
                group["momentum"] = float(np.interp(ni, xi, [self.args.warmup_momentum, self.args.momentum]))

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the (unscaled) gradient norm."""
        if self.cfg.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Stop the epoch clock at the latest batch."""
        self.epoch_train_seconds = time.perf_counter() - self.epoch_start

    def on_train_epoch_end(self) -> None:
        """Account the epoch's training time and step the learning-rate schedule."""
        self.train_seconds += self.epoch_train_seconds
        self.recipe.scheduler.step()

    def on_validation_epoch_start(self) -> None:
        """Share rank 0's EMA buffers (BatchNorm statistics differ per rank), then reset the metrics."""
        if self.trainer.world_size > 1:
            for buffer in self.ema.ema.buffers():
                torch.distributed.broadcast(buffer, src=0)
        self.reset_metrics()

    def on_validation_epoch_end(self) -> None:
        """Record and log the epoch's metrics, and ask ``on_epoch`` whether to go on."""
        metrics = self.compute_metrics()
        self.history.append(metrics)
        self.log_dict({f"val/{k}": v for k, v in metrics.items()}, sync_dist=True)  # equal on every rank
        stop = False
        if self.on_epoch is not None and self.trainer.is_global_zero:
            stop = bool(self.on_epoch(self.current_epoch, metrics))
        if self.trainer.strategy.broadcast(stop) and self.current_epoch + 1 < self.trainer.max_epochs:
            self.trainer.should_stop = self.stopped_early = True
