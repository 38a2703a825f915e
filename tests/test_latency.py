"""Latency comparable between trials: fixed CPU threads, and a ratio to the baseline timed beside each model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from search import cost


class Work(nn.Module):
    """``n`` passes of one convolution: ``Work(2 * n)`` does twice the work of ``Work(n)``."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.conv = nn.Conv2d(16, 16, 3, padding=1)
        self.threads: set[int] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.threads.add(torch.get_num_threads())
        for _ in range(self.n):
            x = self.conv(x)
        return x


def test_twice_the_work_is_twice_the_baseline() -> None:
    ratio = cost.profile(Work(8), 48, channels=16, baseline=Work(4))["latency_ratio"]
    assert 1.5 < ratio < 2.7, ratio


def test_the_baseline_against_itself_is_one() -> None:
    base = Work(4)
    result = cost.profile(base, 48, channels=16, baseline=base)
    assert 0.8 < result["latency_ratio"] < 1.25, result
    assert result["latency_ms"] > 0


def test_the_measurement_runs_on_fixed_threads_and_restores_them() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model, base = Work(1), Work(1)
        cost.profile(model, 16, channels=16, baseline=base, threads=1)
        assert model.threads == base.threads == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("baseline", [None, Work(1)], ids=["alone", "with baseline"])
def test_fields_without_and_with_a_baseline(baseline: nn.Module | None) -> None:
    result = cost.profile(Work(1), 16, channels=16, baseline=baseline)
    ratio = {"latency_ratio"} if baseline is not None else set()
    assert set(result) == {"gflops", "params", "latency_ms", "peak_mem_mb", *ratio}
