"""Sites and named placements of every shipped detection YAML and of ResNets; the errors for what does not exist."""

from __future__ import annotations

import pytest
from placement.shipped import DETECTION_YAMLS
from ultralytics.nn.tasks import yaml_model_load

from search.placement import PlacementError, Site, sites

YOLO_PLACEMENTS = ("backbone", "neck", "head", "sppf", "all")


@pytest.mark.parametrize("model", DETECTION_YAMLS)
def test_sites_of_every_shipped_detection_yaml(model: str) -> None:
    d = yaml_model_load(model)
    rows = d["backbone"] + d["head"]
    every = sites(model)
    assert every, model
    for site in every:
        assert isinstance(site, Site)
        assert 0 <= site.index < len(rows) - 1  # never the detection head
        assert rows[site.index][2] not in ("Concat", "nn.Upsample", "nn.Identity", "CBLinear")
        assert site.section == ("backbone" if site.index < len(d["backbone"]) else "neck")
        assert site.channels > 0 and site.stride in (1, 2, 4, 8, 16, 32, 64)
    assert [s.index for s in every] == sorted(s.index for s in every)
    assert sites(model, "backbone") + sites(model, "neck") == every
    head_inputs = [i if i >= 0 else len(rows) - 1 + i for i in rows[-1][0]]
    assert [s.index for s in sites(model, "head")] == sorted(head_inputs)
    has_spp = any(row[2] in ("SPPF", "SPP", "SPPELAN") for row in rows)
    if has_spp:
        assert [s.module for s in sites(model, "sppf")] in (["SPPF"], ["SPP"], ["SPPELAN"])
    else:
        with pytest.raises(PlacementError, match=rf"'sppf' .* does not exist in {model}; valid: backbone"):
            sites(model, "sppf")


def test_yolov8n_sites_match_the_architecture() -> None:
    head = sites("yolov8n.yaml", "head")
    assert [(s.index, s.channels, s.stride, s.module) for s in head] == [
        (15, 64, 8, "C2f"),
        (18, 128, 16, "C2f"),
        (21, 256, 32, "C2f"),
    ]
    assert [s.channels for s in sites("yolov8s.yaml", "head")] == [128, 256, 512]  # the scale letter picks the scale
    assert sites("yolov8n", "sppf") == sites("yolov8n.yaml", "sppf")  # ``.yaml`` may be left out


def test_explicit_layers_in_forward_order() -> None:
    assert [s.index for s in sites("yolov8n.yaml", [21, 4, 6, 4])] == [4, 6, 21]


@pytest.mark.parametrize(
    ("model", "where", "message"),
    [
        ("yolov8n.yaml", "middle", r"unknown placement 'middle' for yolov8n.yaml; valid: backbone, neck, head, sppf"),
        ("yolov8n.yaml", [4, 11], r"11 is not an insertion site of yolov8n.yaml; valid: 0-9, 12, 15-16, 18-19, 21$"),
        ("yolov8n.yaml", [99], r"99 is not an insertion site"),
        ("yolov8n.yaml", [22], r"22 is not an insertion site"),  # the detection head
        ("yolov3-tiny.yaml", "sppf", r"placement 'sppf' \(after SPPF/SPP/SPPELAN\) does not exist in yolov3-tiny"),
        ("resnet18", "neck", r"unknown placement 'neck' for resnet18; valid: stages, blocks, all"),
        ("resnet18", ["layer5"], r"'layer5' is not an insertion site of resnet18; valid: layer1.0, layer1.1, layer1,"),
        ("no_such_model", "all", r"unknown model 'no_such_model.yaml'"),
        ("yolov8n-seg.yaml", "all", r"ends in Segment, not a YOLO detection head; supported: Detect, v10Detect"),
        ("yolov8n-world.yaml", "all", r"ends in WorldDetect, not a YOLO detection head"),
    ],
)
def test_errors_are_one_line_naming_value_and_valid_choices(model: str, where: object, message: str) -> None:
    with pytest.raises(PlacementError, match=message) as err:
        sites(model, where)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("model", "blocks", "channels"), [("resnet18", 2, 64), ("resnet50", 3, 256)])
def test_resnet_sites(model: str, blocks: int, channels: int) -> None:
    stages = sites(model, "stages")
    assert [(s.index, s.section, s.stride) for s in stages] == [
        ("layer1", "stage", 4),
        ("layer2", "stage", 8),
        ("layer3", "stage", 16),
        ("layer4", "stage", 32),
    ]
    assert [s.channels for s in stages] == [channels * 2**i for i in range(4)]
    inside = sites(model, "blocks")
    assert inside[:blocks] == [Site(f"layer1.{i}", "block", channels, 4, stages[0].module) for i in range(blocks)]
    assert sorted(sites(model, "all"), key=lambda s: s.index) == sorted(stages + inside, key=lambda s: s.index)
    assert [s.index for s in sites(model, ["layer3", "layer2.1"])] == ["layer2.1", "layer3"]
