"""Insertion into torchvision ResNets: after each stage and inside each residual block, before the addition."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import ResNet, get_model

from search.placement import PlacementError, apply, export_yaml, sites


@pytest.mark.parametrize("model", ["resnet18", "resnet50"])
@pytest.mark.parametrize("placement", ["stages", "blocks", "all"])
def test_identity_blocks_with_baseline_weights_reproduce_the_baseline(
    model: str, placement: str, image: torch.Tensor
) -> None:
    base = get_model(model, weights=None).eval()
    chosen = sites(model, placement)
    placed = apply(model, {s.index: "se" for s in chosen}, weights=base.state_dict(), identity_init=True)
    assert isinstance(placed.model, ResNet) and placed.yaml is None
    total = len(base.state_dict())
    assert placed.transfer == (total, total)
    with torch.no_grad():
        torch.testing.assert_close(placed.model.eval()(image), base(image), rtol=0, atol=1e-5)


def test_where_the_blocks_go() -> None:
    placed = apply("resnet50", {"layer2": "se", "layer3.1": ("cbam", {"reduction": 8})}, nc=10)
    net = placed.model
    assert type(net.layer2[-1]).__name__ == "SE" and len(net.layer2) == 5  # appended to the stage
    inside = net.layer3[1].bn3  # after the residual branch's last norm, before the addition
    assert isinstance(inside, nn.Sequential) and isinstance(inside[0], nn.BatchNorm2d)
    assert type(inside[1]).__name__ == "CBAM"
    assert net.fc.out_features == 10 and placed.key.startswith("resnet50:nc=10;layer2=se(")
    assert net.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 10)


def test_transfer_from_a_module_and_from_a_state_dict_file(tmp_path: Path) -> None:
    base = get_model("resnet18", weights=None)
    torch.save(base.state_dict(), path := tmp_path / "resnet18.pth")
    blocks = {"layer1.0": "se", "layer4": "se"}
    total = len(base.state_dict())
    assert apply("resnet18", blocks, weights=base).transfer == (total, total)
    assert apply("resnet18", blocks, weights=path).transfer == (total, total)
    moved, _ = apply("resnet18", blocks, weights=base, nc=10).transfer
    assert moved == total - 2  # fc.weight and fc.bias have another shape


def test_resnets_have_no_yaml() -> None:
    with pytest.raises(PlacementError, match="only YOLO placements"):
        export_yaml(apply("resnet18", {}), "x.yaml")
