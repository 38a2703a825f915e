"""The training recipe against ultralytics' own trainer, iteration by iteration: warm-up of the learning rates, the
momentum and the gradient accumulation, the schedule's steps between epochs, the optimizer steps and the EMA."""

from __future__ import annotations

import time
from copy import deepcopy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from ultralytics import YOLO
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.torch_utils import ModelEMA

import runners.module
from runners import TrainConfig, prepare_digits
from runners.detect import DetectionModule
from runners.fit import fit
from runners.module import scale_marked
from runners.seams import no_font_download, training_recipe
from search.placement import apply

Iteration = dict[str, Any]
# ultralytics' side per optimizer: it does not depend on the project's code, so mutation testing, which forks every
# mutant's run from a process that ran the tests once, trains it once instead of once per mutant
THEIRS: dict[str, tuple[list[Iteration], ModelEMA]] = {}


def _state(
    epoch: int, i: int, optimizer: torch.optim.Optimizer, scheduler: Any, accumulate: int, ema: ModelEMA
) -> Iteration:
    """What the recipe decides at one iteration: every param group's lr, momentum (SGD) or betas (Adam) and weight
    decay, the accumulation, the schedule's epoch and the optimizer steps so far (the EMA's updates)."""
    groups = [
        {k: g.get(k) for k in ("param_group", "lr", "initial_lr", "momentum", "betas", "weight_decay")}
        for g in optimizer.param_groups
    ]
    return {
        "epoch": epoch,
        "batch": i,
        "groups": groups,
        "accumulate": accumulate,
        "schedule": scheduler.last_epoch,
        "steps": ema.updates,
    }


class Recorded(DetectionModule):
    """Our detection trial, recording each iteration after its training step."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.iterations: list[Iteration] = []
        self.epoch_seconds: list[float] = []

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.epoch_seconds.append(self.epoch_train_seconds)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx)
        self.iterations.append(
            _state(
                self.current_epoch, batch_idx, self.recipe.optimizer, self.recipe.scheduler, self.accumulate, self.ema
            )
        )


def _ours(init: DetectionModel, data: Path, cfg: TrainConfig) -> Recorded:
    module = Recorded(deepcopy(init), data, cfg, on_epoch=lambda e, metrics: module.epochs.append((e, *metrics)) and 0)
    module.epochs = []
    start = time.perf_counter()
    fit(module, cfg, progress="none")
    module.wall = time.perf_counter() - start
    return module


def _ultralytics(init: DetectionModel, data: Path, cfg: TrainConfig, tmp: Path) -> tuple[list[Iteration], ModelEMA]:
    weights = tmp / "init.pt"
    torch.save({"model": deepcopy(init)}, weights)
    yolo = YOLO(str(weights))
    iterations: list[Iteration] = []

    def record(trainer: Any) -> None:  # after the batch's optimizer step, if it had one
        i = len(iterations) - trainer.epoch * len(trainer.train_loader)
        iterations.append(
            _state(trainer.epoch, i, trainer.optimizer, trainer.scheduler, trainer.accumulate, trainer.ema)
        )

    yolo.add_callback("on_train_batch_end", record)
    overrides = {**cfg.ultralytics_overrides(), "val": False, "save": False, "deterministic": False}
    with no_font_download():
        yolo.train(data=str(data), device="cpu", project=str(tmp), name="ultralytics", exist_ok=True, **overrides)
    return iterations, yolo.trainer.ema


def _theirs(name: str, init: DetectionModel, data: Path, cfg: TrainConfig, tmp: Path) -> tuple[list[Iteration], Any]:
    if name not in THEIRS:
        THEIRS[name] = _ultralytics(init, data, cfg, tmp)
    return THEIRS[name]


def test_accumulation_without_warm_up_steps_where_ultralytics_does(tmp_path: Path) -> None:
    """No warm-up and nbs twice the batch: an optimizer step every second batch from the first epoch on."""
    data = prepare_digits(root=tmp_path, n_train=16, n_val=4, imgsz=64)
    init = apply("yolov8n.yaml", {}, nc=10).model
    cfg = TrainConfig(
        epochs=2, imgsz=64, batch=4, nbs=8, warmup_epochs=0, optimizer="SGD", lr0=0.01, workers=0,
        accelerator="cpu", devices=1,
    )  # fmt: skip
    ours = _ours(init, data, cfg).iterations
    theirs, _ = _theirs("SGD, no warm-up", init, data, cfg, tmp_path)
    assert [it["steps"] for it in theirs] == [0, 1, 1, 2, 2, 3, 3, 4]
    assert [it["accumulate"] for it in theirs] == [2] * 8
    for ni, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == reference, f"iteration {ni}: ours {mine}, ultralytics {reference}"


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["SGD", "auto"])  # auto: AdamW at a fitted lr, bias warm-up from 0
def test_warm_up_accumulation_schedule_and_ema_follow_ultralytics(optimizer: str, tmp_path: Path) -> None:
    data = prepare_digits(root=tmp_path, n_train=16, n_val=4, imgsz=64)
    init = apply("yolov8n.yaml", {}, nc=10).model
    cfg = TrainConfig(
        epochs=3, imgsz=64, batch=4, nbs=8, warmup_epochs=1, optimizer=optimizer, lr0=0.01, workers=0,
        accelerator="cpu", devices=1,
    )  # fmt: skip
    module = _ours(init, data, cfg)
    ours, our_ema = module.iterations, module.ema
    theirs, their_ema = _theirs(optimizer, init, data, cfg, tmp_path)

    # 4 batches an epoch; warm-up over iterations 0-4 (epoch 2's first included) ramps the accumulation to 2 (nbs 8);
    # epoch 3's learning rates come from the schedule alone
    assert [(it["epoch"], it["batch"]) for it in theirs] == [(e, i) for e in range(3) for i in range(4)]
    assert [it["accumulate"] for it in theirs] == [1, 1] + [2] * 10
    assert [it["steps"] for it in theirs] == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7]
    assert [it["schedule"] for it in theirs] == [0] * 4 + [1] * 4 + [2] * 4
    for ni, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        for key, expected in reference.items():
            assert mine[key] == expected, f"iteration {ni}, {key}: ours {mine[key]}, ultralytics {expected}"
    assert (our_ema.updates, our_ema.enabled) == (their_ema.updates, their_ema.enabled) == (7, True)
    assert our_ema.decay(our_ema.updates) == their_ema.decay(their_ema.updates)
    # what the trial reports: every epoch to its callback, 16 images an epoch, not stopped, the training time
    assert [e[0] for e in module.epochs] == [0, 1, 2] and all("map50_95" in e[1:] for e in module.epochs)
    assert module.images_seen == 48 and module.stopped_early is False
    assert module.train_seconds == pytest.approx(sum(module.epoch_seconds)) and len(module.epoch_seconds) == 3
    assert min(module.epoch_seconds) > 0 and module.train_seconds < module.wall
    shown, logged = module.trainer.progress_bar_metrics, module.trainer.logged_metrics
    assert {"train/box_loss", "train/cls_loss", "train/dfl_loss"} <= shown.keys()  # the bar shows the losses
    assert "val/map50_95" in logged


def test_setup_builds_ultralytics_loaders_freezes_the_dfl_alone_and_regroups_new_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``setup`` decides before any step: the loaders (shuffled training, in-process on a CPU as ultralytics
    does, a validation batch twice the training one, in order), which parameters train, the accumulation, and the
    inserted blocks' own parameter group at their learning-rate multiplier."""
    import lightning as L
    from torch.utils.data import RandomSampler, SequentialSampler

    from search.evaluate import mark_blocks

    data = prepare_digits(root=tmp_path, n_train=16, n_val=12, imgsz=64)
    placed = apply("yolov8n.yaml", {15: ("se", {})}, nc=10)
    assert mark_blocks(placed.model, 5.0) > 0
    cfg = TrainConfig(epochs=2, imgsz=64, batch=4, nbs=4, workers=8, optimizer="SGD", lr0=0.01, warmup_epochs=0,
                      accelerator="cpu", devices=1)  # fmt: skip
    module = DetectionModule(placed.model, data, cfg)
    module.trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=2, logger=False, enable_progress_bar=False)
    seen = {}

    def recipe(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return training_recipe(*args, **kwargs)

    monkeypatch.setattr(runners.module, "training_recipe", recipe)
    module.setup("fit")
    # what optimizer=auto chooses by: optimizer steps of the whole run, at the nominal batch (16 images / 4, 2 epochs)
    assert seen["iterations"] == 8 and seen["regroup"] is scale_marked
    train, val = module.train_loader, module.val_loader
    assert isinstance(train.sampler, RandomSampler) and train.batch_size == 4
    assert train.num_workers == 0 and not train.pin_memory  # 4 batches would allow workers: the CPU gets none
    assert isinstance(val.sampler, SequentialSampler) and val.batch_size == 8
    frozen = {n for n, p in placed.model.named_parameters() if not p.requires_grad}
    assert frozen and frozen == {n for n, _ in placed.model.named_parameters() if ".dfl" in n}
    assert module.accumulate == module.nominal_accumulate == 1  # nbs equal to the batch: a step every batch
    marked = {id(p) for p in placed.model.parameters() if getattr(p, "lr_mult", 1.0) == 5.0}
    groups = module.recipe.optimizer.param_groups
    own = [g for g in groups if {id(p) for p in g["params"]} & marked]
    assert own and all({id(p) for p in g["params"]} <= marked for g in own)  # the blocks' parameters alone
    assert {g["lr"] for g in own} == {5.0 * g["lr"] for g in groups if g not in own}
    assert (module.images_seen, module.train_seconds, module.stopped_early, module.history) == (0, 0.0, False, [])
    assert module.hparams["lr0"] == 0.01 and module.hparams["batch"] == 4  # the settings, saved with the module
    module.on_fit_start()  # the EMA: ultralytics' decay ramp to 0.9999; without EMA (decay 0) a copy of the weights
    assert module.ema.decay(10**6) == pytest.approx(0.9999)
    plain = DetectionModule(placed.model, data, replace(cfg, ema=False))
    plain.on_fit_start()
    assert plain.ema.decay(10**6) == 0.0
    for p in placed.model.parameters():  # the gradient is clipped to trainer.grad_clip (10) by its total norm
        p.grad = torch.full_like(p, 100.0) if p.requires_grad else None
    module.on_before_optimizer_step(module.recipe.optimizer)
    norms = [p.grad.norm() for p in placed.model.parameters() if p.grad is not None]
    assert torch.linalg.vector_norm(torch.stack(norms)) == pytest.approx(10.0, rel=1e-3)
