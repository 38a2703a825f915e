"""Tiny digits datasets (generated once per session) and tiny training settings for the runner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners import TrainConfig, prepare_digits


@pytest.fixture(scope="session")
def digits_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory of this session's generated datasets."""
    return tmp_path_factory.mktemp("digits")


@pytest.fixture(scope="session")
def digits_detect(digits_root: Path) -> Path:
    """The data.yaml of 32 train / 16 val detection canvases of 64 pixels."""
    return prepare_digits(digits_root, n_train=32, n_val=16, imgsz=64)


@pytest.fixture(scope="session")
def digits_classify(digits_root: Path) -> Path:
    """An image folder of 40 train / 20 val single digits of 32 pixels."""
    return prepare_digits(digits_root, task="classify", n_train=40, n_val=20, imgsz=32)


@pytest.fixture
def tiny() -> TrainConfig:
    """One CPU epoch at imgsz 64, batch 8."""
    return TrainConfig(epochs=1, imgsz=64, batch=8, nbs=8, accelerator="cpu", devices=1)
