"""torchvision ResNets: sites after each stage and inside each residual block, before the residual addition.

Inside a block the attention goes after the last normalisation of the residual branch (``bn2`` of a BasicBlock,
``bn3`` of a Bottleneck), the SE-ResNet / CBAM-ResNet position: that norm becomes ``Sequential(norm, block)``.
After a stage the block is appended to the stage's ``Sequential``. Baseline tensor names are kept, except the
wrapped norms' (``layer1.0.bn2.weight`` -> ``layer1.0.bn2.0.weight``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import torch
from torch import nn
from torchvision import models
from torchvision.models import resnet

import modules
from search.placement.base import Built, Catalog, Site, Spec

STAGES = ("layer1", "layer2", "layer3", "layer4")
NUM_CLASSES = 1000


def is_resnet(model: str) -> bool:
    """Whether ``model`` names a torchvision ResNet builder (resnet18, resnext50_32x4d, wide_resnet50_2, ...)."""
    try:
        return models.get_model_builder(model).__module__ == resnet.__name__
    except ValueError:
        return False


def catalog(model: str) -> Catalog:
    """Every in-block and after-stage site of a ResNet and its named placements, from a pass on the meta device."""
    size = 64
    shapes: dict[str, torch.Size] = {}
    with torch.device("meta"):
        net = models.get_model(model, weights=None).eval()
        targets = {f"{stage}.{i}": block for stage in STAGES for i, block in enumerate(net.get_submodule(stage))}
        targets.update({stage: net.get_submodule(stage) for stage in STAGES})
        for name, module in targets.items():
            module.register_forward_hook(lambda m, x, y, name=name: shapes.__setitem__(name, y.shape))
        net(torch.zeros(1, 3, size, size))
    sites = tuple(
        Site(name, "stage" if name in STAGES else "block", shape[1], size // shape[2], _block_type(targets[name]))
        for name, shape in shapes.items()  # in forward order: a stage's blocks, then the stage
    )

    def where(section: str | None) -> tuple[str, ...]:
        return tuple(site.index for site in sites if section in (None, site.section))

    named = {
        "stages": ("after each stage", where("stage")),
        "blocks": ("inside each residual block, before the addition", where("block")),
        "all": ("every site", where(None)),
    }
    return Catalog(model, sites, named)


def place(model: str, blocks: Mapping[str, Spec], gate: bool, nc: int | None) -> Built:
    """Build the ResNet with the given blocks at the given sites."""
    net = models.get_model(model, weights=None, num_classes=nc or NUM_CLASSES)
    channels = {index: _channels(net.get_submodule(index)) for index in blocks}
    renamed = {}
    for index, (key, hparams) in blocks.items():
        attn = modules.build(key, channels[index], identity_init=gate, **hparams)
        target = net.get_submodule(index)
        if index in STAGES:
            target.append(attn)
        else:
            norm = _last_norm(target)
            setattr(target, norm, nn.Sequential(getattr(target, norm), attn))
            renamed[f"{index}.{norm}."] = f"{index}.{norm}.0."
    return Built(net, None, partial(_rename, renamed), net.fc.out_features)


def _rename(renamed: dict[str, str], name: str) -> str:
    for old, new in renamed.items():
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def _last_norm(block: nn.Module) -> str:
    """Name of the last normalisation of a residual block's branch (the downsample shortcut is a Sequential)."""
    return [name for name, child in block.named_children() if isinstance(child, nn.BatchNorm2d)][-1]


def _channels(module: nn.Module) -> int:
    """Output channels of a residual block or of a stage (its last block)."""
    block = module[-1] if isinstance(module, nn.Sequential) else module
    return getattr(block, _last_norm(block)).num_features


def _block_type(module: nn.Module) -> str:
    return type(module[-1] if isinstance(module, nn.Sequential) else module).__name__
