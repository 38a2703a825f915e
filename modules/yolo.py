"""``AttnBlock``: the model-YAML layer that puts any registered block into an ultralytics model.

A row ``[-1, 1, AttnBlock, [c2, cbam, {reduction: 8}]]`` inserts CBAM after the previous row. ultralytics'
``parse_model`` gives modules it does not know their YAML arguments unscaled and no input channels, but it resolves
an argument that names one of its local variables to that variable's value: ``c2`` is its running output-channel
count, i.e. the channels of the previous row at the scale being built. The row must therefore take its input from
the previous row (``from = -1``); its output has the same channels, which is what ``parse_model`` assumes for an
unknown module.

Importing this module registers ``AttnBlock`` with ultralytics (``parse_model`` looks module names up in
``ultralytics.nn.tasks``), so ``import modules.yolo`` is the one call needed before ``YOLO("my-attn.yaml")``.
Checkpoints pickle the class under this module's path, so loading one imports and registers it by itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from ultralytics.nn import tasks

from modules.registry import build, resolve


class AttnBlock(nn.Module):
    """A registered attention block as a YOLO layer: (B, C, H, W) to (B, C, H, W).

    Args:
        c1: input channels (``c2`` in the YAML row, resolved by ``parse_model``).
        key: a registry key or alias (see ``modules.available()``).
        hparams: keyword arguments of the block (paper defaults when omitted).
        gate: wrap the block in the zero-initialised residual gate, an exact identity map at initialisation.
    """

    def __init__(self, c1: int, key: str, hparams: dict[str, Any] | None = None, gate: bool = False) -> None:
        super().__init__()
        self.key = resolve(key)
        self.attn = build(self.key, c1, identity_init=gate, **(hparams or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x)

    def extra_repr(self) -> str:
        return f"key={self.key!r}"


setattr(tasks, AttnBlock.__name__, AttnBlock)
