"""Baseline weights into a modified model: tensor names remapped past the inserted blocks, then matched by shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn
from ultralytics.engine.model import Model
from ultralytics.nn.tasks import torch_safe_load
from ultralytics.utils.torch_utils import intersect_dicts

Weights = str | Path | nn.Module | Mapping[str, torch.Tensor]


def state_of(weights: Weights) -> dict[str, torch.Tensor]:
    """The baseline's tensors from a checkpoint path, a module (``YOLO`` objects too) or a state_dict.

    A ``.pt`` path is read as ultralytics reads it (an ultralytics checkpoint, EMA weights preferred, or a saved
    state_dict); any other path must hold a state_dict (e.g. torchvision's ``.pth`` files).
    """
    if isinstance(weights, (str, Path)):
        path = Path(weights)
        weights = torch_safe_load(str(path))[0] if path.suffix == ".pt" else torch.load(path, map_location="cpu")
    if isinstance(weights, Mapping) and isinstance(weights.get("ema") or weights.get("model"), nn.Module):
        weights = (weights.get("ema") or weights["model"]).float()
    if isinstance(weights, Model):
        weights = weights.model
    if isinstance(weights, nn.Module):
        weights = weights.state_dict()
    return dict(weights)


def transfer(weights: Weights, model: nn.Module, rename: Callable[[str], str]) -> tuple[int, int]:
    """Load the baseline ``weights`` into ``model``, renaming each baseline tensor name with ``rename``.

    Tensors whose renamed name or shape has no match in ``model`` are skipped (e.g. a head for another ``nc``).

    Returns:
        (transferred, total): how many of the baseline's tensors were loaded, of how many.
    """
    state = state_of(weights)
    matched = intersect_dicts({rename(name): value for name, value in state.items()}, model.state_dict())
    model.load_state_dict(matched, strict=False)
    return len(matched), len(state)
