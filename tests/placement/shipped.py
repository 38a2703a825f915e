"""The detection model YAMLs the installed ultralytics ships, each named at its smallest scale."""

from __future__ import annotations

import re
from pathlib import Path

import ultralytics
import yaml

EXCLUDE = ("-cls", "-seg", "-pose", "-obb", "-world", "yoloe", "rtdetr", "-sem", "-depth")


def _smallest(path: Path) -> str:
    """``yolov8-p2.yaml`` -> ``yolov8n-p2.yaml`` (first declared scale); files without scales keep their name."""
    scales = yaml.safe_load(path.read_text()).get("scales")
    if not scales or re.match(r"yolov?\d+[nslmxb]\b", path.stem):
        return path.name
    return re.sub(r"^(yolov?\d+)", rf"\g<1>{next(iter(scales))}", path.stem) + ".yaml"


ROOT = Path(ultralytics.__file__).parent / "cfg" / "models"
DETECTION_YAMLS = sorted(_smallest(p) for p in ROOT.glob("*/*.yaml") if not any(x in p.name for x in EXCLUDE))
