"""Comparing model outputs: every tensor of a (nested) output, equal to 1e-5."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch


def tensors(y: Any) -> Iterator[torch.Tensor]:
    """Every tensor of a (nested) model output."""
    if isinstance(y, torch.Tensor):
        yield y
    elif isinstance(y, dict):
        yield from (t for v in y.values() for t in tensors(v))
    elif isinstance(y, (list, tuple)):
        yield from (t for v in y for t in tensors(v))


def outputs(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The model's output tensors in eval mode."""
    with torch.no_grad():
        return list(tensors(model.eval()(x)))


def assert_same(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b) and a
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-5)
