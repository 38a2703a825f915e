"""Evaluate one architecture: build it from baseline weights, measure its cost, check budgets, fine-tune, save it.

Composes the placement engine, the cost model and the runners.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import torch

from modules.gate import ResidualGate
from runners.module import LR_MULT
from search import space
from search.cost import profile
from search.early_stop import CURVE, EarlyStop
from search.placement import apply, export_yaml

COST_ATTR = {"gflops": "gflops", "params": "params", "latency": "latency_ratio"}  # latency: relative to the baseline


@dataclass
class Evaluate:
    """Fine-tune an architecture and return (metric, cost).

    Args:
        model: the model name or YAML path given to the placement engine.
        fit: the runner, ``fit(model, on_epoch=..., loggers=..., label=...) -> TrialResult``, data, settings and
            progress bound; ``label`` (``trial 3``) starts the trial's progress bar or lines.
        weights: baseline weights every trial starts from.
        nc: number of classes.
        run_dir: where trial weights go.
        cost: the second objective (``gflops``, ``params`` or ``latency``).
        imgsz: image size of the cost model.
        budgets: {"gflops": max, "params": max}; None entries are no budget.
        early_stop: None, or (margin, min_epoch).
        metric: the runner's validation metric the search maximises (``map50_95`` or ``top1``).
        seed: seed of the inserted blocks' initialisation (data order and augmentation follow the runner's seed).
        block_lr_mult: learning-rate multiplier of the inserted blocks' parameters (gates included).
    """

    model: str
    fit: Callable[..., Any]
    weights: Path | None
    nc: int
    run_dir: Path
    cost: str = "gflops"
    imgsz: int = 640
    budgets: Mapping[str, float | None] = field(default_factory=dict)
    early_stop: tuple[float, int] | None = (0.02, 1)
    metric: str = "map50_95"
    seed: int = 0
    block_lr_mult: float = 1.0

    @functools.cached_property
    def baseline_model(self) -> torch.nn.Module:
        """The architecture without blocks, timed beside each trial's so that latencies compare across loads."""
        return apply(self.model, {}, nc=self.nc).model

    def __call__(self, trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
        blocks = {_site(s): (key, hp) for s, (key, hp) in arch.items()}
        torch.manual_seed(self.seed)  # the blocks' initial weights, the same for every architecture at a seed
        placed = apply(self.model, blocks, weights=self.weights, identity_init=True, nc=self.nc)
        mark_blocks(placed.model, self.block_lr_mult)
        trial.set_user_attr("transfer", list(placed.transfer))
        cost = profile(placed.model, self.imgsz, key=placed.key, baseline=self.baseline_model)
        trial.set_user_attr("gflops", float(f"{cost['gflops']:.6g}"))
        trial.set_user_attr("params", int(cost["params"]))
        trial.set_user_attr("latency_ms", round(cost["latency_ms"], 3))
        trial.set_user_attr("latency_ratio", round(cost["latency_ratio"], 4))
        for name, limit in self.budgets.items():
            if limit is not None and cost[name] > limit:
                raise optuna.TrialPruned(f"over budget: {name} {cost[name]:.4g} > search.max_{name}={limit}")
        my_cost = trial.user_attrs[COST_ATTR[self.cost]]

        rule = EarlyStop.for_trial(trial.study, my_cost, *self.early_stop) if self.early_stop else None
        curve: list[float] = []

        def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
            curve.append(float(metrics[self.metric]))
            trial.set_user_attr(CURVE, curve)
            return rule is not None and rule.should_stop(len(curve), curve[-1])

        start = time.perf_counter()
        result = self.fit(placed.model, on_epoch=on_epoch, loggers=loggers, label=f"trial {trial.number}")
        trial.set_user_attr("train_time_s", round(time.perf_counter() - start, 1))
        trial.set_user_attr("images_per_s", round(result.images_per_s, 1))
        trial.set_user_attr("metric", round(result.primary, 5))
        if "map50" in result.metrics:
            trial.set_user_attr("map50", round(result.metrics["map50"], 5))
        if result.stopped_early:
            best = rule.threshold(len(curve)) if rule else None
            raise optuna.TrialPruned(f"stopped at epoch {len(curve)}: {curve[-1]:.4f} below {best} of a cheaper trial")
        self._save(trial, placed)
        return result.primary, my_cost

    def _save(self, trial: optuna.Trial, placed: Any) -> None:
        """Keep the trial's weights (and YOLO YAML) so the front's architectures can be copied to ``best/``.

        YOLO weights are an ultralytics checkpoint (``yolo train model=trial_007.pt`` fine-tunes it further); ResNet
        weights are a state_dict.
        """
        folder = self.run_dir / "trials"
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / f"trial_{trial.number:03d}.pt"
        if placed.yaml is None:
            torch.save(placed.model.state_dict(), weights)
        else:
            model = copy.deepcopy(placed.model).half()
            torch.save({"model": model, "train_args": {}, "epoch": -1, **_stamp()}, weights)
        trial.set_user_attr("weights", str(weights))
        if placed.yaml is not None:
            yaml_path = folder / f"trial_{trial.number:03d}.yaml"
            export_yaml(placed, yaml_path)
            trial.set_user_attr("yaml", str(yaml_path))


def mark_blocks(model: torch.nn.Module, lr_mult: float) -> int:
    """Give the parameters of every inserted (gated) block the runner's ``lr_mult``; returns how many were marked.

    The baseline's weights are trained already and should move gently; the blocks start at the identity and must
    learn within a short trial.
    """
    marked = 0
    if lr_mult != 1.0:
        for module in model.modules():
            if isinstance(module, ResidualGate):
                for p in module.parameters():
                    setattr(p, LR_MULT, lr_mult)
                    marked += 1
    return marked


def _stamp() -> dict[str, str]:
    import ultralytics

    return {"date": datetime.now().isoformat(), "version": ultralytics.__version__}


def _site(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text
