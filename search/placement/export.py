"""``export_yaml(placed, path)``: the modified architecture as a model YAML that plain ultralytics builds and trains.

Name the file as ultralytics names its YAMLs, without the scale letter (``yolov8-cbam.yaml``); then, after
``import modules.yolo``, ``YOLO("yolov8s-cbam.yaml")`` builds scale s, as for ultralytics' own files. On the command
line, ``attnsearch-yolo`` (or ``python -m modules.yolo``) takes the place of ``yolo``; the file's header says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from search.placement.apply import Placed
from search.placement.base import PlacementError

LOADER_KEYS = ("scale", "yaml_file", "channels")  # set by ultralytics when it loads or builds a model


def export_yaml(placed: Placed, path: str | Path) -> Path:
    """Write ``placed.yaml`` to ``path`` (one flow-style row per layer, its index as a comment) and return the path."""
    if placed.yaml is None:
        raise PlacementError("only YOLO placements have a model YAML; this one is a torchvision model")
    path = Path(path)
    source = placed.yaml.get("yaml_file", "a model YAML")
    lines = [
        f"# {source} with attention blocks (AttnBlock rows, which plain `yolo` does not know)",
        f"# train with: attnsearch-yolo train model={path.name} data=...  (or python -m modules.yolo train ...;"
        " in Python, import modules.yolo before YOLO(...))",
        f"# {placed.key}",
    ]
    index = 0
    for name, value in placed.yaml.items():
        if name in LOADER_KEYS:
            continue
        if name in ("backbone", "head"):
            lines.append(f"{name}:")
            for row in value:
                lines.append(f"  - {_flow(row)} # {index}")
                index += 1
        elif isinstance(value, dict):
            lines += [f"{name}:", *(f"  {k}: {_flow(v)}" for k, v in value.items())]
        else:
            lines.append(f"{name}: {_flow(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _flow(value: Any) -> str:
    """``value`` as one line of flow-style YAML."""
    return yaml.safe_dump(value, default_flow_style=True, width=float("inf")).removesuffix("...\n").strip()
