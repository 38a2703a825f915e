"""The placement engine: where attention blocks can go in a YOLO or ResNet, and the model with them placed.

>>> from search.placement import sites, apply, export_yaml
>>> [s.index for s in sites("yolov8n.yaml", "head")]
[15, 18, 21]
>>> placed = apply("yolov8n.yaml", {15: "se", 21: ("cbam", {"reduction": 8})}, identity_init=True)
"""

from __future__ import annotations

from search.placement.apply import Placed, apply, canonical_key
from search.placement.base import PlacementError, Site
from search.placement.export import export_yaml
from search.placement.sites import sites

__all__ = ["Placed", "PlacementError", "Site", "apply", "canonical_key", "export_yaml", "sites"]
