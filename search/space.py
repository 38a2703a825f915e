"""The search space: which site gets which candidate block, with which hyperparameters.

A trial samples ``max_blocks`` slots; each slot picks a site (or ``none``) and a block. Parameter names encode the
structure (``slot0.site``, ``slot0.block``, ``slot0.cbam.reduction``), so Optuna's samplers see conditional
hyperparameters the define-by-run way. Two slots on one site keep the first; equal architectures reached by different
parameters share one canonical key, and the search trains each key once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from modules import defaults, resolve

NONE = "none"
Architecture = dict[str, tuple[str, dict[str, Any]]]  # site id (as text) -> (block key, hyperparameters)


def sample(
    trial: optuna.Trial,
    sites: Sequence[str],
    candidates: Mapping[str, Mapping[str, Sequence[Any]]],
    max_blocks: int,
    sample_hparams: bool = True,
) -> Architecture:
    """Sample an architecture: at most ``max_blocks`` of ``sites`` get one of the ``candidates`` blocks.

    Args:
        trial: the Optuna trial.
        sites: site ids as text (YOLO layer indices or ResNet dotted names).
        candidates: block key -> {hyperparameter: choices}.
        max_blocks: number of slots.
        sample_hparams: sample each block's hyperparameters from its choices (else paper defaults).
    """
    arch: Architecture = {}
    for slot in range(max_blocks):
        site = trial.suggest_categorical(f"slot{slot}.site", [NONE, *sites])
        key = trial.suggest_categorical(f"slot{slot}.block", list(candidates))
        if site == NONE or site in arch:
            continue
        hparams = {}
        if sample_hparams:
            hparams = {
                name: trial.suggest_categorical(f"slot{slot}.{key}.{name}", list(choices))
                for name, choices in candidates[key].items()
            }
        arch[site] = (key, hparams)
    return arch


def baseline_params(candidates: Sequence[str], max_blocks: int) -> dict[str, str]:
    """The parameters of the architecture without blocks (enqueued as trial 0)."""
    params = {}
    for slot in range(max_blocks):
        params[f"slot{slot}.site"] = NONE
        params[f"slot{slot}.block"] = candidates[0]
    return params


def grid(sites: Sequence[str], candidates: Sequence[str], max_blocks: int) -> dict[str, list[str]]:
    """The search space in the form ``optuna.samplers.GridSampler`` takes (hyperparameters at their defaults)."""
    space: dict[str, list[str]] = {}
    for slot in range(max_blocks):
        space[f"slot{slot}.site"] = [NONE, *sites]
        space[f"slot{slot}.block"] = list(candidates)
    return space


def canonical(arch: Architecture) -> Architecture:
    """``arch`` with every hyperparameter spelled out (defaults filled in), so equal architectures compare equal."""
    return {site: (resolve(key), {**defaults(key), **hparams}) for site, (key, hparams) in arch.items()}


def describe(arch: Architecture) -> str:
    """A short human-readable form, e.g. ``15:cbam(reduction=8) 21:soca``; ``baseline`` without blocks."""
    if not arch:
        return "baseline"
    parts = []
    for site, (key, hparams) in sorted(arch.items(), key=lambda kv: _order(kv[0])):
        hp = ",".join(f"{k}={v}" for k, v in sorted(hparams.items()))
        parts.append(f"{site}:{key}({hp})" if hp else f"{site}:{key}")
    return " ".join(parts)


def to_json(arch: Architecture) -> str:
    """A canonical JSON form (sorted), stored with each trial."""
    data = {s: [k, dict(sorted(h.items()))] for s, (k, h) in sorted(arch.items())}
    return json.dumps(data, sort_keys=True, default=str)


def from_json(text: str) -> Architecture:
    """Inverse of :func:`to_json`."""
    return {s: (k, dict(h)) for s, (k, h) in json.loads(text).items()}


def _order(site: str) -> tuple[int, str]:
    return (int(site), "") if site.isdigit() else (0, site)
