"""The cost model: what GFLOPs count, profile's fields, cache and modes, the CPU memory trace.

Agreement with ultralytics' GFLOPs for every shipped YAML is tested in tests/placement/test_placement_shipped.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from search import cost
from search.placement import apply


def test_gflops_counts_convolutions_and_norms() -> None:
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.SiLU())
    macs = 8 * 3 * 3 * 3 * 16 * 16
    assert cost.gflops(conv, 16) * 1e9 == 2 * macs + 4 * 8 * 16 * 16  # SiLU counts zero


def test_profile_fields_cache_and_mode() -> None:
    placed = apply("yolov8n.yaml", {15: "se"})
    net = placed.model.train()
    result = cost.profile(net, 64, key=placed.key)
    assert set(result) == {"gflops", "params", "latency_ms", "peak_mem_mb"}
    assert result["params"] == sum(p.numel() for p in net.parameters())
    weights_mb = sum(t.numel() * t.element_size() for t in net.state_dict().values()) / 2**20
    assert result["peak_mem_mb"] > weights_mb and result["latency_ms"] > 0 and result["gflops"] > 0
    assert net.training  # mode restored
    assert cost.profile(net, 64, key=placed.key) == result  # cached: the same measurement


def test_profile_batch_grows_memory_not_gflops_per_image() -> None:
    conv = nn.Conv2d(3, 16, 3, padding=1)
    one, two = cost.profile(conv, 64), cost.profile(conv, 64, batch=2)
    assert one["gflops"] == two["gflops"]
    assert two["peak_mem_mb"] > one["peak_mem_mb"]


def test_profile_needs_20_runs() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        cost.profile(nn.Conv2d(3, 3, 1), 8, runs=5)


def test_peak_memory_traces_live_tensors() -> None:
    """Two 1 MiB activations alive at once, then freed: the peak is weights + input + 2 MiB."""

    class Twice(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = x * 2, x * 3
            return a + b

    x = torch.zeros(1, 1, 512, 512)  # 1 MiB
    with cost._LiveTensors([x]) as live:
        Twice()(x)
    assert live.peak == 3 * 2**20  # a, b and a + b
