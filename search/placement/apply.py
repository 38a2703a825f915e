"""``apply(model, blocks, ...)``: the modified model with its YAML, its baseline weights and its canonical key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

import modules
from search.placement.base import Index, Spec
from search.placement.sites import catalog, family
from search.placement.transfer import Weights, transfer


@dataclass
class Placed:
    """A model with attention blocks placed.

    Attributes:
        model: the torch module (an ultralytics ``DetectionModel`` or a torchvision ``ResNet``).
        yaml: the modified model YAML as a dict (YOLO only, else None); ``export_yaml`` writes it.
        transfer: (transferred, total) baseline tensors; (0, 0) without weights.
        key: canonical architecture key: same model, nc, blocks and hyperparameters give the same key, in any order.
        blocks: site index -> (canonical block key, hyperparameters as given).
    """

    model: nn.Module
    yaml: dict[str, Any] | None
    transfer: tuple[int, int]
    key: str
    blocks: dict[Index, Spec]


def apply(
    model: str | Path,
    blocks: Mapping[Index, str | tuple[str, Mapping[str, Any]]],
    weights: Weights | None = None,
    identity_init: bool = False,
    nc: int | None = None,
) -> Placed:
    """Build ``model`` with an attention block at each given site.

    Args:
        model: as in ``sites``: a YOLO YAML name or path, or a torchvision ResNet name.
        blocks: site index -> block key, or (key, hyperparameters); ``{}`` builds the baseline.
        weights: baseline weights to transfer (checkpoint path, module or state_dict of the unmodified model).
        identity_init: wrap every block in a zero-initialised residual gate so the model starts equal to the baseline.
        nc: number of classes (YOLO ``nc``, ResNet ``fc`` outputs); the model's default when None.

    Raises:
        PlacementError: an unknown model, or an index that is not a site of it.
        UnknownBlockError: an unknown block key.
    """
    name, fam = family(model)
    catalog(model).select(list(blocks))
    specs = {index: _spec(spec) for index, spec in blocks.items()}
    built = fam.place(name, specs, identity_init, nc)
    moved = transfer(weights, built.model, built.rename) if weights is not None else (0, 0)
    return Placed(built.model, built.yaml, moved, canonical_key(name, built.nc, specs), specs)


def canonical_key(model: str, nc: int, blocks: Mapping[Index, Spec]) -> str:
    """``yolov8n.yaml:nc=80;12=cbam(kernel_size=7,reduction=16)``: sites sorted, hyperparameter defaults filled in."""
    parts = [f"{model}:nc={nc}"]
    for index in sorted(blocks):
        key, hparams = blocks[index]
        merged = {**modules.defaults(key), **hparams}
        parts.append(f"{index}={key}({','.join(f'{k}={v!r}' for k, v in sorted(merged.items()))})")
    return ";".join(parts)


def _spec(spec: str | tuple[str, Mapping[str, Any]]) -> Spec:
    key, hparams = (spec, {}) if isinstance(spec, str) else spec
    return modules.resolve(key), dict(hparams)
