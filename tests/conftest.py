"""Shared test setup: offline, quiet, deterministic."""

from __future__ import annotations

import os
import tempfile

# Generated datasets and cached baselines of this test session live in a fresh directory, not in the user's cache.
os.environ.setdefault("ATTNSEARCH_CACHE", tempfile.mkdtemp(prefix="attnsearch-test-cache-"))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
