"""Baseline weights every trial starts from: the user's checkpoint, or a baseline trained once and cached.

The cache key covers the model, the number of classes, the dataset (path and modification time) and the training
settings (its seed included), so later trials and later runs reuse it; a file lock makes concurrent workers train it
once. ``search.baselines`` B > 1 trains B of them, draw k at ``trainer.seed + k``: a trial's repeat k starts from
draw k mod B, so a paired difference varies with the baseline's training as well as with the fine-tuning seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from runners.data.digits import cache_root
from search.errors import UserError
from search.placement import apply


def baseline_settings(trial: Any, epochs: int, schedule: Mapping[str, Any]) -> Any:
    """The baseline's own training settings: the trials' (``trainer``) for ``epochs`` (``search.baseline_epochs``), with
    the from-scratch schedule ``search.baseline_train`` (e.g. a higher ``lr0`` and a warm-up) in place of the trials'
    fine-tuning recipe. A key that is not a training setting is one ``UserError`` line."""
    known = {f.name for f in fields(trial)}
    for key in schedule:
        if key not in known or key == "epochs":
            raise UserError(
                f"search.baseline_train.{key}: not a training setting of the baseline; valid: any trainer key but "
                "epochs (search.baseline_epochs), e.g. lr0, warmup_epochs"
            )
    return replace(trial, epochs=epochs, **schedule)


def cache_key(model: str, nc: int, data: Path, settings: Any) -> str:
    """A short hash of everything the baseline's weights depend on."""
    data = Path(data)
    stamp = data.stat().st_mtime_ns if data.exists() else 0
    settings = asdict(settings) if is_dataclass(settings) else dict(settings)
    text = json.dumps([model, nc, str(data.resolve()), stamp, settings], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def baseline_weights(
    model: str,
    nc: int,
    data: Path,
    weights: str | None,
    fit: Callable[..., Any],
    settings: Any,
    log: Callable[[str], None] = print,
    draw: int = 0,
) -> Path:
    """The path of the weights trials start from.

    Args:
        model: model name or YAML path.
        nc: number of classes.
        data: the dataset (part of the cache key).
        weights: the user's checkpoint (``model.weights``), used as is when given.
        fit: ``fit(model, cfg=...)`` trains a model in place.
        settings: the baseline's own training settings (a dataclass with ``epochs``), not the trials' fine-tuning.
        log: where progress messages go.
        draw: which training of the baseline: draw k is trained at ``settings.seed + k`` (network initialisation,
            data order, augmentation), so draws differ by design and each is cached apart.
    """
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"model.weights: no such file {str(path)!r}")
        return path
    settings = replace(settings, seed=settings.seed + draw)
    path = cache_root() / "baselines" / f"{cache_key(model, nc, data, settings)}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            log(f"baseline: reusing {path}")
            return path
        log(f"baseline: training {model} for {settings.epochs} epochs at seed {settings.seed} once (cached at {path})")
        torch.manual_seed(settings.seed)  # the network's initialisation follows the seed too
        placed = apply(model, {}, nc=nc)
        result = fit(placed.model, cfg=settings)
        path.with_suffix(".json").write_text(json.dumps({"history": result.history}))
        tmp = path.with_suffix(".tmp")
        torch.save(placed.model.state_dict(), tmp)
        tmp.replace(path)
    return path


def baseline_metrics(weights: Path) -> dict[str, float]:
    """The cached baseline's validation metrics after its last epoch (what trials start from); {} if unknown."""
    record = Path(weights).with_suffix(".json")
    if not record.is_file():
        return {}
    history = json.loads(record.read_text())["history"]
    return history[-1] if history else {}
