"""Insertion into YOLO: rewiring, every registered block as an identity, canonical keys, nc, checkpoint transfer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from placement.helpers import assert_same, outputs
from ultralytics import YOLO
from ultralytics.nn.tasks import load_checkpoint, yaml_model_load
from ultralytics.utils.torch_utils import intersect_dicts

import modules
from modules.gate import ResidualGate
from search.placement import PlacementError, Site, apply, canonical_key, sites
from search.placement.transfer import state_of, transfer
from search.placement.yolo import _rename, catalog, insert


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


def test_yolov8n_catalog_exactly() -> None:
    """Every site of yolov8n (layer, section, channels, stride, module) and every named placement, from the YAML."""
    cat = catalog("yolov8n.yaml")
    backbone = [(16, 2, "Conv"), (32, 4, "Conv"), (32, 4, "C2f"), (64, 8, "Conv"), (64, 8, "C2f"), (128, 16, "Conv"),
                (128, 16, "C2f"), (256, 32, "Conv"), (256, 32, "C2f"), (256, 32, "SPPF")]  # fmt: skip
    # Upsample and Concat rows have no weights: no sites
    # and the strides of the head inputs each feeds: the P4/P5 path after site 15 no longer reaches stride 8
    every_level = (8, 16, 32)
    neck = {12: (128, 16, "C2f", every_level), 15: (64, 8, "C2f", every_level), 16: (64, 16, "Conv", (16, 32)),
            18: (128, 16, "C2f", (16, 32)), 19: (128, 32, "Conv", (32,)), 21: (256, 32, "C2f", (32,))}  # fmt: skip
    assert cat.model == "yolov8n.yaml"
    assert cat.sites == tuple(
        [Site(i, "backbone", *row, every_level) for i, row in enumerate(backbone)]
        + [Site(i, "neck", *r) for i, r in neck.items()]
    )
    assert all(type(s.stride) is int for s in cat.sites)
    every = (*range(10), 12, 15, 16, 18, 19, 21)
    assert dict(cat.named) == {
        "backbone": ("sites of the backbone", tuple(range(10))),
        "neck": ("sites of the neck", (12, 15, 16, 18, 19, 21)),
        "head": ("the feature maps that feed the detection head", (15, 18, 21)),
        "sppf": ("after SPPF/SPP/SPPELAN", (9,)),
        "all": ("every site", every),
    }
    assert [s.module for s in catalog("yolov9t.yaml").select("sppf")] == ["SPPELAN"]


def test_catalog_of_a_yaml_with_its_own_input_channels(tmp_path: Path) -> None:
    d = yaml_model_load("yolov8n.yaml")
    path = tmp_path / "yolov8n-gray.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in d.items() if k != "yaml_file"} | {"channels": 1}))
    assert catalog(str(path)).sites == catalog("yolov8n.yaml").sites  # the probe feeds one channel, as declared


def test_insert_rewires_every_kind_of_source() -> None:
    """Old rows 0-4 with blocks after 1 (the last backbone row) and 2: new rows 0, 1, [2], 3, [4], 5, 6."""
    d = {
        "nc": 2,
        "backbone": [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]],
        "head": [[-1, 1, "Conv", [32, 3, 1]], [[-2, 2], 1, "Concat", [1]], [[3, 1, 0], 1, "Detect", ["nc"]]],
    }
    new, index = insert(d, {1: ("se", {}), 2: ("cbam", {"reduction": 8})}, gate=True)
    assert index == [0, 1, 3, 5, 6]
    assert new["nc"] == 2
    assert new["backbone"] == [
        [-1, 1, "Conv", [16, 3, 2]],
        [-1, 1, "Conv", [32, 3, 2]],
        [-1, 1, "AttnBlock", ["c2", "se", {}, True]],  # after the last backbone row: still the backbone
    ]
    assert new["head"] == [
        [-1, 1, "Conv", [32, 3, 1]],
        [-1, 1, "AttnBlock", ["c2", "cbam", {"reduction": 8}, True]],
        [[2, 4], 1, "Concat", [1]],  # -2 of row 3 was row 1: now the block after it; 2 is now the block after 2
        [[5, 2, 0], 1, "Detect", ["nc"]],  # absolute sources, row 0 included
    ]
    new["head"][2][3].append("changed")
    assert d["head"][1][3] == [1]  # the rows' arguments are copies
    plain, _ = insert(d, {2: ("se", {})}, gate=False)
    assert plain["head"][1] == [-1, 1, "AttnBlock", ["c2", "se"]] and len(plain["backbone"]) == 2


def test_rename_moves_layer_numbers_only() -> None:
    moved = [0, 1, 3, 4]
    assert _rename(moved, "model.2.cv1.conv.weight") == "model.3.cv1.conv.weight"
    assert _rename(moved, "model.3.weight") == "model.4.weight"
    assert _rename(moved, "model.1.bn.running_mean") == "model.1.bn.running_mean"
    assert _rename(moved, "head.2.weight") == "head.2.weight"  # another prefix
    assert _rename(moved, "model.dfl.weight") == "model.dfl.weight"  # no layer number
    assert _rename(moved, "model") == "model"


def test_apply_without_weights_and_with_aliases() -> None:
    placed = apply("yolov8n.yaml", {21: "senet", 15: ("cbam", {"reduction": 8})}, nc=5)
    assert placed.transfer == (0, 0)
    assert placed.blocks == {21: ("se", {}), 15: ("cbam", {"reduction": 8})}
    assert placed.key == (
        "yolov8n.yaml:nc=5;15=cbam(kernel_size=7,min_channels=4,reduction=8);21=se(bias=False,min_channels=4,reduction=16)"
    )
    assert canonical_key("m", 3, {"layer1": ("eca", {"kernel_size": 3})}) == (
        "m:nc=3;layer1=eca(b=1,gamma=2,kernel_size=3)"
    )
    assert canonical_key("m", 3, {"a": ("coord", {"act": "hswish"})}) == (
        "m:nc=3;a=coord(act='hswish',min_channels=8,reduction=32)"  # values as Python literals: strings quoted
    )
    assert placed.yaml is placed.model.yaml and placed.yaml["nc"] == 5
    rows = placed.yaml["backbone"] + placed.yaml["head"]
    assert [rows[i][2] for i in (16, 23)] == ["AttnBlock", "AttnBlock"]
    assert not [m for m in placed.model.modules() if isinstance(m, ResidualGate)]  # identity_init off by default


class _Net(torch.nn.Module):
    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.a = torch.nn.Linear(2, width)
        self.b = torch.nn.Linear(width, 1)


def test_state_of_every_kind_of_weights(tmp_path: Path) -> None:
    net = _Net()
    expected = {k: v.clone() for k, v in net.state_dict().items()}

    def same(state: dict[str, torch.Tensor]) -> bool:
        return state.keys() == expected.keys() and all(torch.equal(state[k], v) for k, v in expected.items())

    assert same(state_of(net)) and same(state_of(net.state_dict()))
    torch.save(net.state_dict(), tmp_path / "net.pth")
    assert same(state_of(tmp_path / "net.pth")) and same(state_of(str(tmp_path / "net.pth")))
    half = _Net().half()
    state = state_of({"ema": None, "model": half, "epoch": 3})  # an ultralytics checkpoint without EMA
    assert {v.dtype for v in state.values()} == {torch.float32} and state.keys() == expected.keys()
    other = _Net(width=4)
    state = state_of({"ema": net, "model": other})  # EMA weights preferred
    assert same(state)
    yolo = YOLO("yolov8n.yaml")
    assert state_of(yolo).keys() == yolo.model.state_dict().keys()
    yolo.save(tmp_path / "y.pt")
    assert state_of(tmp_path / "y.pt").keys() == yolo.model.state_dict().keys()


def test_transfer_renames_then_matches_by_shape() -> None:
    source, target = _Net(width=3), _Net(width=4)
    target.c = torch.nn.Linear(2, 3)  # where the source's ``a`` goes under the rename
    moved = transfer(source, target, lambda name: name.replace("a.", "c.", 1))
    assert moved == (3, 4)  # c.weight, c.bias and b.bias fit; b.weight is sized for width 3, not 4
    assert torch.equal(target.c.weight, source.a.weight) and torch.equal(target.c.bias, source.a.bias)
    assert torch.equal(target.b.bias, source.b.bias) and not torch.equal(target.b.weight[:, :3], source.b.weight)
