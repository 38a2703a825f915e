"""Every use the runners make of ultralytics' and Lightning's internals, one function each.

None of these is a public API, so an upgrade may change any of them without notice: ``tests/test_seams.py`` checks
each against the installed versions and names the one that changed, and ``pyproject.toml`` pins both packages to the
versions the suite passed with.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from unittest import mock

import torch
import ultralytics.data.utils as data_utils
from torch import nn
from ultralytics.engine.trainer import BaseTrainer

if TYPE_CHECKING:
    import lightning as L

# What BaseTrainer.build_optimizer accepts: a set inside the method, copied here for checking settings early.
OPTIMIZERS = ("auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop")


def training_recipe(
    model: nn.Module,
    args: Any,
    data: dict[str, Any],
    epochs: int,
    batches: int,
    decay: float,
    iterations: int,
    regroup: Callable[[torch.optim.Optimizer], None] | None = None,
) -> SimpleNamespace:
    """Ultralytics' optimizer, learning-rate schedule and warm-up length for ``model``.

    ``BaseTrainer``'s own methods, called on a namespace holding what they read (``args``, ``data``, ``epochs``), so
    ``optimizer=auto`` picks what ``yolo train`` would (and, as there, updates ``args``). ``regroup`` may change the
    optimizer's parameter groups before the schedule records their learning rates. Returns the namespace with
    ``optimizer``, ``lf`` (the learning-rate factor of an epoch), ``scheduler`` and ``warmup_iterations`` (for
    ``batches`` batches an epoch).
    """
    recipe = SimpleNamespace(args=args, data=data, epochs=epochs)
    recipe.optimizer = BaseTrainer.build_optimizer(
        recipe, model, name=args.optimizer, lr=args.lr0, momentum=args.momentum, decay=decay, iterations=iterations
    )
    if regroup is not None:
        regroup(recipe.optimizer)
    BaseTrainer._setup_scheduler(recipe)  # sets recipe.lf and recipe.scheduler
    recipe.warmup_iterations = BaseTrainer._get_warmup_iterations(recipe, batches)
    return recipe


def start_validation(validator: Any, model: nn.Module, device: torch.device, data: dict[str, Any]) -> None:
    """Point ultralytics' validator at ``model`` on ``device`` and reset its metrics, as its ``__call__`` does when a
    trainer calls it; NMS-free heads then validate as in ``yolo train``."""
    model.end2end = validator.args.nms is False
    validator.device, validator.data = device, data
    validator.init_metrics(model)


@contextmanager
def no_font_download() -> Iterator[None]:
    """Ultralytics' dataset check without its font download (``check_font``, for plots, which trials never make)."""
    with mock.patch.object(data_utils, "check_font", lambda *args, **kwargs: None):
        yield


def detection_images(dataset: Any) -> tuple[list[str], set[str]]:
    """Every image of a ``YOLODataset``'s split, and the ones it kept (it drops corrupt ones silently)."""
    return dataset.get_img_files(dataset.img_path), set(dataset.im_files)


def label_problem(image: str, label: str, nc: int) -> str:
    """Ultralytics' own message about an image and its label file (empty when both are fine)."""
    return data_utils.verify_image_label((image, label, "", False, nc, 0, 0, False))[-1]


def classification_images(dataset: Any) -> tuple[list[tuple[str, int]], set[str]]:
    """Every (file, class) of a ``ClassificationDataset``'s folder, and the files it kept."""
    return list(dataset.base.samples), {sample[0] for sample in dataset.samples}


def image_problem(sample: tuple[str, int]) -> str | None:
    """Ultralytics' own message about a corrupt classification image; None when it is fine."""
    _, _, corrupt, message = data_utils.verify_image((sample, ""))
    return message if corrupt else None


def fit_or_interrupt(trainer: L.Trainer, module: L.LightningModule) -> None:
    """``trainer.fit(module)``; Ctrl-C or SIGTERM during it is raised as ``KeyboardInterrupt``.

    Lightning answers an interrupt inside fit with ``sys.exit(1)`` and ignores SIGINT from then on
    (``lightning.pytorch.trainer.call._call_and_handle_interrupt``); the caller gets the interrupt instead, to record
    the trial and stop cleanly, and Ctrl-C works again.
    """
    try:
        trainer.fit(module)
    except SystemExit:
        if not trainer.interrupted:
            raise
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt("training interrupted") from None
