"""The one registry of attention blocks: a decorator fills it, ``build`` looks a key up."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from modules.gate import ResidualGate

_BLOCKS: dict[str, type[nn.Module]] = {}
_ALIASES: dict[str, str] = {}

M = TypeVar("M", bound=type[nn.Module])


class UnknownBlockError(KeyError):
    """An attention key that is not registered; the message lists the valid keys."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(key: str, *aliases: str) -> Callable[[M], M]:
    """Class decorator: register an attention block under ``key`` (and optional aliases).

    The class must take ``channels`` as its first positional argument and map (B, C, H, W) to (B, C, H, W).
    """

    def wrap(cls: M) -> M:
        for name in (key, *aliases):
            if name in _BLOCKS or name in _ALIASES:
                raise ValueError(f"attention key {name!r} is registered twice")
        _BLOCKS[key] = cls
        _ALIASES.update(dict.fromkeys(aliases, key))
        return cls

    return wrap


def available() -> list[str]:
    """The registered block keys, sorted (aliases not included)."""
    return sorted(_BLOCKS)


def resolve(key: str) -> str:
    """Map a key or alias to its canonical key; unknown keys raise ``UnknownBlockError`` listing the valid ones."""
    if key in _BLOCKS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownBlockError(f"unknown attention block {key!r}; valid keys: {', '.join(available())}")


def block_class(key: str) -> type[nn.Module]:
    """The class registered under ``key`` (or one of its aliases)."""
    return _BLOCKS[resolve(key)]


def defaults(key: str) -> dict[str, Any]:
    """The paper-default hyperparameters of a block: its keyword arguments after ``channels``."""
    params = list(inspect.signature(block_class(key)).parameters.values())[1:]
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def build(key: str, channels: int, *, identity_init: bool = False, **hparams: Any) -> nn.Module:
    """Build the block ``key`` for ``channels`` input channels.

    Args:
        key: a registry key or alias (see ``available()``).
        channels: C of the (B, C, H, W) input; the output has the same shape.
        identity_init: wrap the block in a zero-initialised residual gate, y = x + γ·(f(x) − x), γ = 0, so that the
            block is an exact identity map until training moves γ.
        **hparams: keyword arguments of the block (paper defaults when omitted).
    """
    cls = block_class(key)
    unknown = set(hparams) - set(defaults(key))
    if unknown:
        raise TypeError(
            f"attention block {key!r} has no hyperparameter {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(defaults(key))) or 'none'}"
        )
    block = cls(int(channels), **hparams)
    return ResidualGate(block) if identity_init else block
