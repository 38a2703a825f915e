"""Insertion into YOLO: rewiring, every registered block as an identity, canonical keys, nc, checkpoint transfer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from placement.helpers import assert_same, outputs
from ultralytics import YOLO
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils.torch_utils import intersect_dicts

import modules
from modules.gate import ResidualGate
from search.placement import PlacementError, apply, sites


@pytest.fixture(scope="module")
def yolov8n(image: torch.Tensor) -> tuple[torch.nn.Module, list[torch.Tensor]]:
    net = apply("yolov8n.yaml", {}).model
    return net, outputs(net, image)


@pytest.mark.parametrize("key", modules.available())
def test_every_registered_block_is_an_identity_at_init_inside_yolo(
    key: str, yolov8n: tuple[torch.nn.Module, list[torch.Tensor]], image: torch.Tensor
) -> None:
    base, expected = yolov8n
    placed = apply("yolov8n.yaml", {9: key, 15: key, 21: key}, weights=base, identity_init=True)
    assert_same(outputs(placed.model, image), expected)
    gates = [m for m in placed.model.modules() if isinstance(m, ResidualGate)]
    assert len(gates) == 3
    before = _head_inputs(placed.model, image)
    with torch.no_grad():  # the blocks are on the data path: opening their gates changes what the head reads
        for name, p in placed.model.named_parameters():  # the gates' γ, and the papers' zero scales (CCNet, DANet)
            if name.split(".")[-1] in ("gamma", "alpha", "beta"):
                p.fill_(1.0)
    after = _head_inputs(placed.model, image)
    assert all((a - b).abs().max() > 1e-3 * b.abs().max() for a, b in zip(after, before, strict=True))


def _head_inputs(model: torch.nn.Module, image: torch.Tensor) -> list[torch.Tensor]:
    """The feature maps the detection head reads (its P3, P4, P5 inputs)."""
    seen: list[torch.Tensor] = []
    hook = model.model[-1].register_forward_pre_hook(lambda module, args: seen.extend(t.clone() for t in args[0]))
    try:
        outputs(model, image)
    finally:
        hook.remove()
    return seen


def test_rewiring_relative_and_absolute_sources() -> None:
    """yolov3-tiny reads layer 14 with ``-2`` and feeds Detect from [19, 15]: all follow the inserted rows."""
    d = apply("yolov3-tiny.yaml", {14: "se", 15: ("se", {"reduction": 8}), 19: "se"}).yaml
    rows = d["backbone"] + d["head"]
    assert [rows[i][2] for i in (15, 17, 22)] == ["AttnBlock"] * 3
    assert rows[15][3] == ["c2", "se"] and rows[17][3] == ["c2", "se", {"reduction": 8}]
    assert rows[18][0] == 15  # was -2 (layer 14): now the block after 14
    assert rows[-1][0] == [22, 17]  # Detect(P4, P5) reads the blocks after 19 and 15
    assert len(d["backbone"]) == 13  # no block in the backbone


def test_key_is_canonical() -> None:
    a = apply("yolov8n.yaml", {21: ("cbam", {"reduction": 16}), 15: "se"})
    b = apply("yolov8n", {15: ("se", {}), 21: "cbam"})
    c = apply("yolov8n.yaml", {15: "se", 21: ("cbam", {"reduction": 8})})
    assert a.key == b.key != c.key
    assert a.key.startswith("yolov8n.yaml:nc=80;15=se(") and ";21=cbam(" in a.key
    assert apply("yolov8n.yaml", {}, nc=3).key == "yolov8n.yaml:nc=3"


def test_nc_and_bad_blocks() -> None:
    base = apply("yolov8n.yaml", {}).model
    placed = apply("yolov8n.yaml", {15: "se"}, weights=base, nc=3)
    assert placed.model.yaml["nc"] == 3 and placed.model.model[-1].nc == 3
    fits = intersect_dicts(base.state_dict(), apply("yolov8n.yaml", {}, nc=3).model.state_dict())
    assert placed.transfer == (len(fits), len(base.state_dict()))  # all but the class branch, sized by nc
    with pytest.raises(PlacementError, match="11 is not an insertion site"):
        apply("yolov8n.yaml", {11: "se"})
    with pytest.raises(KeyError, match="valid keys"):
        apply("yolov8n.yaml", {15: "no_such_block"})


def test_transfer_from_an_ultralytics_checkpoint(tmp_path: Path, image: torch.Tensor) -> None:
    path = tmp_path / "yolov8n.pt"
    YOLO("yolov8n.yaml").save(path)
    reference, _ = load_checkpoint(path)
    placed = apply(
        "yolov8n.yaml", {s.index: "se" for s in sites("yolov8n.yaml", "all")}, weights=path, identity_init=True
    )
    total = len(reference.state_dict())
    assert placed.transfer == (total, total)
    assert_same(outputs(placed.model, image), outputs(reference, image))
