"""ultralytics YOLO detection models: their sites, and the model YAML with attention rows inserted and rewired.

A site is the output of a layer with weights that yields one (B, C, H, W) map, the detection head excepted; Concat,
Upsample, pooling, padding, Identity and multi-output layers (CBLinear) are not sites.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from functools import partial
from typing import Any

import torch
from ultralytics.nn.tasks import BaseModel, DetectionModel, parse_model, yaml_model_load

import modules.yolo  # registers AttnBlock with parse_model
from search.placement.base import Built, Catalog, PlacementError, Site, Spec

SPP = ("SPPF", "SPP", "SPPELAN")
HEADS = ("Detect", "v10Detect")


def load(model: str) -> dict[str, Any]:
    """The model YAML as ultralytics reads it, scale letter in the name included (``yolov8s.yaml`` -> scale s)."""
    try:
        d = yaml_model_load(model)
    except FileNotFoundError:
        raise PlacementError(
            f"unknown model {model!r}: not a torchvision ResNet nor an ultralytics model YAML (e.g. yolov8n.yaml)"
        ) from None
    head = d["head"][-1][2]
    if head not in HEADS:
        raise PlacementError(
            f"model {model!r} ends in {head}, not a YOLO detection head; supported: {', '.join(HEADS)} (and ResNets)"
        )
    return d


def catalog(model: str) -> Catalog:
    """All sites of a YOLO model at its scale and its named placements, from one shape-only pass on the meta device."""
    d = load(model)
    size = 256  # as ultralytics' stride probe: P6 maps are still 4x4
    shapes: dict[int, torch.Size] = {}
    with torch.device("meta"):
        net = BaseModel()
        net.model, net.save = parse_model(deepcopy(d), ch=d.get("channels", 3), verbose=False)
        for layer in net.model[:-1]:
            layer.register_forward_hook(lambda m, x, y: shapes.__setitem__(m.i, y.shape) if _is_map(y) else None)
        net.eval().model[-1].train()  # the head's raw maps: no decoding
        net(torch.zeros(1, d.get("channels", 3), size, size))
    n_backbone = len(d["backbone"])
    inputs = net.model[-1].f  # the head's, finest level first
    reach = _downstream(net.model)
    sites = tuple(
        Site(
            i,
            "backbone" if i < n_backbone else "neck",
            shapes[i][1],
            size // shapes[i][2],
            layer.type.split(".")[-1],
            tuple(size // shapes[h][2] for h in inputs if h in reach[i]),
        )
        for i, layer in enumerate(net.model[:-1])
        if i in shapes and any(True for _ in layer.parameters())
    )
    head = set(inputs)

    def where(test: Any) -> tuple[int, ...]:
        return tuple(site.index for site in sites if test(site))

    named = {
        "backbone": ("sites of the backbone", where(lambda s: s.section == "backbone")),
        "neck": ("sites of the neck", where(lambda s: s.section == "neck")),
        "head": ("the feature maps that feed the detection head", where(lambda s: s.index in head)),
        "sppf": (f"after {'/'.join(SPP)}", where(lambda s: s.module in SPP)),
        "all": ("every site", where(lambda s: True)),
    }
    return Catalog(model, sites, named)


def _downstream(layers: Any) -> dict[int, set[int]]:
    """Layer index -> itself and every layer whose input depends on its output (``from`` -1 is the layer before)."""
    reach: dict[int, set[int]] = {}
    for j in reversed(range(len(layers))):
        reach[j] = {j}
        for k in range(j + 1, len(layers)):
            sources = layers[k].f if isinstance(layers[k].f, list) else [layers[k].f]
            if any((k - 1 if f == -1 else f) == j for f in sources):
                reach[j] |= reach[k]
    return reach


def place(model: str, blocks: Mapping[int, Spec], gate: bool, nc: int | None) -> Built:
    """Build the YOLO model with an ``AttnBlock`` row after each given layer."""
    d, new_index = insert(load(model), blocks, gate)
    net = DetectionModel(d, nc=nc, verbose=False)
    return Built(net, net.yaml, partial(_rename, new_index), net.yaml["nc"])


def insert(d: dict[str, Any], blocks: Mapping[int, Spec], gate: bool) -> tuple[dict[str, Any], list[int]]:
    """Insert an ``AttnBlock`` row after each layer in ``blocks`` and rewire every ``from``.

    Whatever read layer i's output (later ``from`` entries, the head's inputs, hence the save list) now reads the
    block after it. Returns the new YAML dict and the new index of every old layer.
    """
    rows = d["backbone"] + d["head"]
    new_index: list[int] = []  # old layer -> its new row
    out_index: list[int] = []  # old layer -> the row that now holds its output
    n = 0
    for i in range(len(rows)):
        new_index.append(n)
        n += 2 if i in blocks else 1
        out_index.append(n - 1)

    def source(f: int, i: int) -> int:
        return -1 if f == -1 else out_index[f + i if f < 0 else f]

    new_rows = []
    for i, (f, repeats, module, args) in enumerate(rows):
        f = [source(x, i) for x in f] if isinstance(f, list) else source(f, i)
        new_rows.append([f, repeats, module, deepcopy(args)])
        if i in blocks:
            new_rows.append([-1, 1, modules.yolo.AttnBlock.__name__, _args(*blocks[i], gate)])
    n_backbone = new_index[len(d["backbone"])]  # a block after the last backbone layer stays in the backbone
    return {**d, "backbone": new_rows[:n_backbone], "head": new_rows[n_backbone:]}, new_index


def _rename(new_index: list[int], name: str) -> str:
    """A baseline tensor name in the modified model: ``model.12.cv1.conv.weight`` -> ``model.14.cv1.conv.weight``."""
    prefix, layer, rest = name.split(".", 2) if name.count(".") >= 2 else (name, "", "")
    return f"{prefix}.{new_index[int(layer)]}.{rest}" if prefix == "model" and layer.isdigit() else name


def _args(key: str, hparams: dict[str, Any], gate: bool) -> list[Any]:
    """``AttnBlock`` arguments as written in the YAML: ``[c2, key]``, then hyperparameters and gate when needed."""
    args: list[Any] = ["c2", key]
    if hparams or gate:
        args.append(dict(hparams))
    if gate:
        args.append(True)
    return args


def _is_map(y: Any) -> bool:
    return isinstance(y, torch.Tensor) and y.dim() == 4
