"""``sites(model, where)``: where blocks can go in a model; the model name decides the family (YOLO YAML or ResNet)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from search.placement import resnet, yolo
from search.placement.base import Catalog, Index, Site


def family(model: str | Path) -> tuple[str, ModuleType]:
    """The canonical model name and the module of its family.

    A torchvision ResNet builder name (``resnet18``) is a ResNet; anything else is an ultralytics YAML name or path,
    ``.yaml`` appended when it has no suffix (``yolov8n`` -> ``yolov8n.yaml``).
    """
    name = str(model)
    if resnet.is_resnet(name):
        return name.lower(), resnet
    return (name if Path(name).suffix else f"{name}.yaml"), yolo


@lru_cache(maxsize=64)
def catalog(model: str | Path) -> Catalog:
    """Every site and named placement of a model (built once per process and name)."""
    name, module = family(model)
    return module.catalog(name)


def sites(model: str | Path, where: str | Sequence[Index] = "all") -> list[Site]:
    """The insertion sites of ``model`` selected by ``where``, in forward order.

    Args:
        model: a YOLO YAML name (``yolov8n.yaml``; the scale letter picks the scale, as in ultralytics), a YAML path,
            or a torchvision ResNet name (``resnet18``).
        where: a named placement (YOLO: ``backbone``, ``neck``, ``head``, ``sppf``, ``all``; ResNet: ``stages``,
            ``blocks``, ``all``) or a list of site indices (YOLO layer indices, ResNet dotted names).

    Raises:
        PlacementError: unknown model or placement, a placement the model lacks, or an index that is not a site.
    """
    return catalog(model).select(where)
