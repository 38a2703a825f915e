"""The exported YAML: plain ``ultralytics.YOLO`` builds it at every scale, trains it, and its checkpoints load back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from ultralytics import YOLO

from modules.yolo import AttnBlock
from search.placement import Placed, apply, export_yaml, sites


def placed(model: str) -> Placed:
    """Blocks after SPPF and at the head's inputs, one of them with hyperparameters."""
    blocks = {s.index: ("cbam", {"reduction": 8}) for s in sites(model, "head")}
    return apply(model, {**blocks, sites(model, "sppf")[0].index: "se"}, identity_init=True)


def shapes(model: torch.nn.Module) -> dict[str, torch.Size]:
    return {name: t.shape for name, t in model.state_dict().items()}


def test_exported_yaml_builds_at_every_scale(tmp_path: Path) -> None:
    """Building runs a forward pass, so each block got the channels of its layer at that scale."""
    path = export_yaml(placed("yolo26n.yaml"), tmp_path / "yolo26-attn.yaml")
    scales = yaml.safe_load(path.read_text())["scales"]
    assert list(scales) == ["n", "s", "m", "l", "x"]
    params = []  # of the four blocks, per scale
    for scale in scales:
        built = YOLO(tmp_path / f"yolo26{scale}-attn.yaml").model  # scale letter after the version, as ultralytics'
        blocks = [m for m in built.model if isinstance(m, AttnBlock)]
        assert len(blocks) == 4
        params.append(sum(p.numel() for m in blocks for p in m.parameters()))
        if scale == "n":
            assert shapes(built) == shapes(placed("yolo26n.yaml").model)
    assert params == sorted(params) and params[0] < params[-1]  # blocks widen with the scale


def test_saved_checkpoint_loads_back(tmp_path: Path) -> None:
    model = YOLO(export_yaml(placed("yolov8n.yaml"), tmp_path / "yolov8-attn.yaml"))
    model.save(tmp_path / "attn.pt")
    loaded = YOLO(tmp_path / "attn.pt").model
    assert sum(isinstance(m, AttnBlock) for m in loaded.model) == 4
    for name, t in model.model.state_dict().items():  # saved in half precision
        torch.testing.assert_close(loaded.state_dict()[name], t.half().to(t.dtype), rtol=0, atol=0, msg=name)


def tiny_dataset(root: Path, images: int = 4) -> Path:
    """A YOLO-format dataset of random 64x64 images, one box each; train and val are the same images."""
    rng = np.random.default_rng(0)
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True)
    for i in range(images):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / "images" / f"{i}.jpg")
        (root / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.4 0.3\n")
    data = {"path": str(root), "train": "images", "val": "images", "names": {0: "thing"}}
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    return root / "data.yaml"


@pytest.mark.slow
def test_exported_yaml_trains_with_ultralytics_and_its_checkpoint_loads_in_a_fresh_process(tmp_path: Path) -> None:
    model = YOLO(export_yaml(placed("yolov8n.yaml"), tmp_path / "yolov8-attn.yaml"))
    model.train(
        data=str(tiny_dataset(tmp_path / "data")),
        epochs=1,
        imgsz=64,
        batch=2,
        plots=False,
        device="cpu",
        workers=0,
        amp=False,
        val=False,
        project=str(tmp_path / "runs"),
        name="train",
        verbose=False,
    )
    last = tmp_path / "runs" / "train" / "weights" / "last.pt"
    assert last.is_file()
    code = (
        "import sys; from ultralytics import YOLO; "
        "print(sum(type(m).__name__ == 'AttnBlock' for m in YOLO(sys.argv[1]).model.model))"
    )
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(last)], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "4"  # unpickling imports modules.yolo, which registers AttnBlock
