"""Fixtures of the placement tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    """A fixed batch of two random 64x64 images."""
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
