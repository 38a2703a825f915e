"""The dataset of a search: the config's generator (digits) or the user's path, checked against the model's task."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from search.errors import UserError


def resolve_data(node: DictConfig, task: str) -> Path:
    """The dataset path: instantiate a generator config (``data=digits``) or take ``data.path``."""
    data_task = node.get("task")
    if data_task is not None and data_task != task:
        hint = "digits_cls" if task == "classify" else "digits"
        raise UserError(f"data: a {data_task} dataset does not fit a {task} model; use e.g. data={hint}")
    return Path(instantiate(node)) if "_target_" in node else Path(str(node.path)).expanduser()


def dataset_classes(data: Path, task: str) -> list[str]:
    """The class names of the dataset (its ``names``); a missing or malformed dataset raises ``DatasetError``."""
    from runners.data.checks import classification_data, detection_data

    info = detection_data(data) if task == "detect" else classification_data(data)
    names = info["names"]
    return list(names.values()) if isinstance(names, dict) else list(names)
