"""``python -m search.inspect``: the sites table and the cost summary; bad input is one line and exit code 2."""

from __future__ import annotations

import sys

import pytest
from hydra import compose, initialize_config_module

from search.cli import run
from search.inspect import inspect, main


def report(*overrides: str) -> str:
    with initialize_config_module("search.conf", version_base="1.3"):
        return inspect(compose("inspect", overrides=["imgsz=64", *overrides]))


def test_table_of_sites_and_costs() -> None:
    text = report("model=yolov8n", "placement=head", "attn=[se,cbam]")
    lines = text.splitlines()
    assert lines[0] == "yolov8n.yaml, placement 'head', 64x64: 3 sites"
    assert lines[2].split()[:5] == ["index", "section", "layer", "channels", "stride"]
    assert "se +params" in lines[2] and "cbam +MFLOPs" in lines[2]
    assert [line.split()[:5] for line in lines[3:6]] == [
        ["15", "neck", "C2f", "64", "8"],
        ["18", "neck", "C2f", "128", "16"],
        ["21", "neck", "C2f", "256", "32"],
    ]
    summary = lines[7:]
    assert summary[0].split() == ["model", "params", "GFLOPs", "Δ", "params", "Δ", "GFLOPs"]
    assert summary[1].split()[:2] == ["baseline", "3,157,200"]
    assert [row.split()[0] for row in summary[2:]] == ["se", "cbam"]


def test_resnet_and_explicit_layers() -> None:
    text = report("model=resnet18", "placement.layers=[layer2.1,layer3]", "attn=[se]")
    assert text.startswith("resnet18, layers ['layer2.1', 'layer3'], 64x64: 2 sites")
    assert "layer2.1  block" in text and "layer3    stage" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=no_such_model"], "model: unknown option 'no_such_model'; valid: custom, resnet18, resnet50"),
        (["attn=no_such_block"], "attn: unknown block 'no_such_block'; valid:"),
        (["placement=middle"], "placement: unknown option 'middle'; valid: all, backbone, blocks, head"),
        (["placement.layers=[4,99]"], "99 is not an insertion site of yolov8n.yaml; valid: 0-9, 12, 15-16"),
        (["model=yolov3-tiny.yaml", "placement=sppf"], "placement 'sppf' (after SPPF/SPP/SPPELAN) does not exist in"),
        (["model=resnet18", "placement=neck"], "unknown placement 'neck' for resnet18; valid: stages, blocks, all"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["search.inspect", *args])
    with pytest.raises(SystemExit) as exit_:
        run(main, args, config_name="inspect")
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
