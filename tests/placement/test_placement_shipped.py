"""Every shipped detection YAML at its smallest scale: each placement keeps the baseline, GFLOPs match ultralytics'."""

from __future__ import annotations

import pytest
import torch
from placement.helpers import assert_same, outputs
from placement.shipped import DETECTION_YAMLS
from ultralytics.utils.torch_utils import get_flops

from search.cost import gflops
from search.placement import PlacementError, apply, sites

PLACEMENTS = ("backbone", "neck", "head", "sppf", "all")
Baseline = tuple[str, torch.nn.Module, dict, list[torch.Tensor]]


@pytest.fixture(scope="module", params=DETECTION_YAMLS)
def baseline(request: pytest.FixtureRequest, image: torch.Tensor) -> Baseline:
    """A shipped YAML: its name, baseline model, state_dict and outputs (built once per YAML)."""
    net = apply(request.param, {}).model.eval()
    return request.param, net, net.state_dict(), outputs(net, image)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_identity_blocks_with_baseline_weights_reproduce_the_baseline(
    baseline: Baseline, placement: str, image: torch.Tensor
) -> None:
    model, _, state, expected = baseline
    try:
        chosen = sites(model, placement)
    except PlacementError as err:  # e.g. no SPPF in yolov3-tiny (tested in test_placement_sites)
        pytest.skip(str(err))
    placed = apply(model, {s.index: "se" for s in chosen}, weights=state, identity_init=True)
    assert placed.transfer == (len(state), len(state))  # 100% of the baseline's tensors
    assert sum(type(m).__name__ == "AttnBlock" for m in placed.model.model) == len(chosen)
    assert_same(outputs(placed.model, image), expected)


def test_head_sites_have_the_detection_strides(baseline: Baseline) -> None:
    model, net, _, _ = baseline
    assert sorted(s.stride for s in sites(model, "head")) == sorted(int(s) for s in net.stride)


def test_gflops_agree_with_ultralytics_within_2_percent(baseline: Baseline) -> None:
    _, net, _, _ = baseline
    ours, theirs = gflops(net, 64), get_flops(net, 64)
    assert theirs > 0
    assert ours == pytest.approx(theirs, rel=0.02)
