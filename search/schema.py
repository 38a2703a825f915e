"""The typed schema of the search's configuration, in Hydra's ConfigStore.

``conf/config.yaml`` and ``conf/inspect.yaml`` start their defaults list with these schemas, so Hydra types every
value of ``model``, ``placement``, ``trainer``, ``search`` and ``logger`` as it composes: ``trainer.epochs=abc`` or
``search.resume=maybe`` fail at composition, before anything runs. Ranges, choices and files are checked afterwards by
``search.validate``. The trainer's schema is derived from ``runners.TrainConfig``, so its fields are declared once.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from runners import TrainConfig


@dataclass
class ModelSchema:
    """Group ``model``: what gets blocks."""

    name: str = MISSING
    task: str = "detect"
    weights: str | None = None


@dataclass
class PlacementSchema:
    """Group ``placement``: a named placement, or explicit ``layers`` (YOLO indices or ResNet module names)."""

    name: str = MISSING
    layers: list[Any] | None = None


@dataclass
class EarlyStopSchema:
    """``search.early_stop``."""

    enabled: bool = True
    margin: float = 0.02
    min_epoch: int = 2
    confidence: float | None = None


@dataclass
class SearchSchema:
    """Group ``search``: the study (see ``conf/search/default.yaml`` for what each value means)."""

    sampler: Any = None
    n_trials: int = 4
    max_blocks: int = 2
    sample_hparams: bool = True
    objective: str = "gflops"
    max_gflops: float | None = None
    max_params: float | None = None
    imgsz: int = 160
    seed: int = 0
    baselines: int = 1
    baseline_epochs: int = 30
    baseline_train: dict[str, Any] = field(default_factory=dict)  # entries from the YAML: a default here would merge
    block_lr_mult: float = 40.0
    gate: bool = False
    skip_inert_sites: bool = True
    repeats: int = 2
    max_repeats: int | None = None
    early_stop: EarlyStopSchema = field(default_factory=EarlyStopSchema)
    max_failures: int = 2
    heartbeat: int = 30
    storage: str | None = None
    study_name: str = "attnsearch"
    resume: bool = False
    worker: int = 0


@dataclass
class LoggerSchema:
    """Group ``logger``: experiment tracking."""

    name: str = MISSING
    mode: str = "offline"
    project: str = "attnsearch"
    entity: str | None = None
    verbose: bool = False


def _omegaconf_type(hint: Any) -> Any:
    """``hint`` where OmegaConf can type it; ``Any`` for unions of several types (``bool | str``), which it cannot."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if union and len(args) > 1:
        return Any
    return hint


def _trainer_schema() -> type:
    """A dataclass with every field of ``TrainConfig`` (its type and default) plus Hydra's ``_target_``."""
    hints = typing.get_type_hints(TrainConfig)
    specs: list[tuple[str, Any, Any]] = [
        ("_target_", str, field(default="runners.TrainConfig")),
        ("_convert_", str, field(default="all")),
    ]
    for f in dataclasses.fields(TrainConfig):
        factory = f.default is dataclasses.MISSING
        default = field(default_factory=f.default_factory) if factory else field(default=f.default)
        specs.append((f.name, _omegaconf_type(hints[f.name]), default))
    return dataclasses.make_dataclass("TrainerSchema", specs)


TrainerSchema = _trainer_schema()


@dataclass
class SearchConfig:
    """``conf/config.yaml``: one search."""

    model: ModelSchema = field(default_factory=ModelSchema)
    attn: Any = MISSING
    placement: PlacementSchema = field(default_factory=PlacementSchema)
    data: Any = MISSING
    trainer: TrainerSchema = field(default_factory=TrainerSchema)  # type: ignore[valid-type]
    search: SearchSchema = field(default_factory=SearchSchema)
    logger: LoggerSchema = field(default_factory=LoggerSchema)


@dataclass
class InspectConfig:
    """``conf/inspect.yaml``: the sites of a placement and what blocks cost there."""

    model: ModelSchema = field(default_factory=ModelSchema)
    placement: PlacementSchema = field(default_factory=PlacementSchema)
    attn: Any = MISSING
    imgsz: int = 640


def register() -> None:
    """Put the schemas in Hydra's ConfigStore (the configs' defaults lists name them)."""
    store = ConfigStore.instance()
    store.store(name="search_schema", node=SearchConfig)
    store.store(name="inspect_schema", node=InspectConfig)


register()
