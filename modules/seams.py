"""The one use the zoo makes of ultralytics' internals: how ``parse_model`` finds a model YAML's module names.

Not a public API, so an upgrade may change it without notice: ``tests/test_seams.py`` checks it against the installed
version, and ``pyproject.toml`` pins ultralytics to the versions the suite passed with.
"""

from __future__ import annotations

from torch import nn
from ultralytics.nn import tasks


def register_layer(cls: type[nn.Module]) -> None:
    """Make ``cls`` a module name that model YAMLs can use: ``parse_model`` looks names up in its module's globals."""
    setattr(tasks, cls.__name__, cls)
