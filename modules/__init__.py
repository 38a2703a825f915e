"""Attention block zoo: every block of the seed articles, correct, exportable, in one registry.

>>> import modules
>>> modules.available()[:3]
['bam', 'cbam', 'ccnet']
>>> block = modules.build("cbam", 64, reduction=8)
"""

from __future__ import annotations

import importlib
import pkgutil

from modules import blocks as _blocks
from modules.gate import ResidualGate
from modules.registry import UnknownBlockError, available, block_class, build, defaults, register, resolve

# Registration is automatic: every file in modules/blocks/ registers its block on import.
for _info in pkgutil.iter_modules(_blocks.__path__):
    importlib.import_module(f"{_blocks.__name__}.{_info.name}")

__all__ = ["ResidualGate", "UnknownBlockError", "available", "block_class", "build", "defaults", "register", "resolve"]
