"""``AttnBlock``: the model-YAML layer that puts any registered block into an ultralytics model.

A row ``[-1, 1, AttnBlock, [c2, cbam, {reduction: 8}]]`` inserts CBAM after the previous row. ultralytics'
``parse_model`` gives modules it does not know their YAML arguments unscaled and no input channels, but it resolves
an argument that names one of its local variables to that variable's value: ``c2`` is its running output-channel
count, i.e. the channels of the previous row at the scale being built. The row must therefore take its input from
the previous row (``from = -1``); its output has the same channels, which is what ``parse_model`` assumes for an
unknown module.

Importing this module registers ``AttnBlock`` with ultralytics (``parse_model`` looks module names up in
``ultralytics.nn.tasks``), so ``import modules.yolo`` is the one call needed before ``YOLO("my-attn.yaml")``.
Checkpoints pickle the class under this module's path, so loading one imports and registers it by itself. Importing
it also allow-lists the zoo's classes for ``torch.load(weights_only=True)``, which ``ULTRALYTICS_SAFE_LOAD=1`` uses.

``python -m modules.yolo ARGS`` (installed as ``attnsearch-yolo ARGS``) is ultralytics' ``yolo ARGS`` with the zoo
registered: same arguments, outputs and exit codes.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import nn

from modules.registry import build, resolve
from modules.seams import register_layer


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


def _zoo_classes() -> list[type[nn.Module]]:
    """Every ``nn.Module`` class defined in ``modules`` (blocks, their parts, the gate, ``AttnBlock``)."""
    found = []
    for name, module in list(sys.modules.items()):
        if name == "modules" or name.startswith("modules."):
            found += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, nn.Module)]
    return sorted(
        {c for c in found if c.__module__.startswith("modules.")}, key=lambda c: f"{c.__module__}.{c.__qualname__}"
    )


def main() -> None:
    """Run ultralytics' ``yolo`` command line on ``sys.argv`` and exit with its status."""
    from ultralytics.cfg import entrypoint

    if not sys.argv[0].endswith("yolo"):  # python -m modules.yolo; ultralytics knows its CLI by the name's end
        sys.argv[0] = "attnsearch-yolo"  # (`yolo predict` saves its results, a Python call does not)
    sys.exit(entrypoint())


if __name__ == "__main__":  # python -m modules.yolo: register the module proper's AttnBlock, not __main__'s
    from modules.yolo import main as _main

    _main()
else:
    register_layer(AttnBlock)
    torch.serialization.add_safe_globals(_zoo_classes())
