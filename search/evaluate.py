"""Evaluate one architecture: build it from baseline weights, measure its cost, check budgets, fine-tune, save it.

Composes the placement engine, the cost model and the runners.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import torch

from modules import available, block_class
from modules.gate import ResidualGate
from runners.module import LR_MULT
from search import space
from search.cost import profile
from search.early_stop import CURVE, REPEAT_CURVES, EarlyStop
from search.intensify import Intensify
from search.placement import apply, export_yaml
from search.repeats import Repeats, help_one

REPEATS = "repeat_metrics"  # user attribute: the metric of each repeat, in repeat order
DRAWS = "baseline_draws"  # study user attribute: how many baselines (search.baselines) the repeats cycle through
REUSED = "repeats_reused"  # user attribute: the repeats taken from the study's slots, trained by another process
COST_ATTR = {"gflops": "gflops", "params": "params", "latency": "latency_ratio"}  # latency: relative to the baseline


@dataclass
class Evaluate:
    """Fine-tune an architecture and return (metric, cost).

    Args:
        model: the model name or YAML path given to the placement engine.
        fit: the runner, ``fit(model, on_epoch=..., loggers=..., label=...) -> TrialResult``, data, settings and
            progress bound; ``label`` (``trial 3``) starts the trial's progress bar or lines.
        weights: baseline weights every trial starts from; or several trainings (draws) of the baseline
            (``search.baselines``), repeat k starting from draw k mod their number, as repeat k of every architecture.
        nc: number of classes.
        run_dir: where trial weights go.
        cost: the second objective (``gflops``, ``params`` or ``latency``).
        imgsz: image size of the cost model.
        budgets: {"gflops": max, "params": max}; None entries are no budget.
        early_stop: None, or (margin, min_epoch, confidence) of ``EarlyStop`` (confidence None: the raw rule).
        metric: the runner's validation metric the search maximises (``map50_95`` or ``top1``).
        seed: seed of the inserted blocks' initialisation (data order and augmentation follow the runner's seed).
        block_lr_mult: learning-rate multiplier of the inserted blocks' parameters (gates included).
        gate: insert each block in a zero-initialised residual gate (the trial starts equal to the baseline); False:
            as the exported YAML builds it, straight on the data path.
        repeats: trainings of the architecture; repeat k uses seed ``seed + k`` for the blocks' weights, data order and
            augmentation, as repeat k of every other architecture does (common random numbers), and the value is
            their mean. Early stopping and the trial's logger run (W&B, CSV) follow repeat 0.
        intensify: adaptive repeats (None: exactly ``repeats``): an architecture gets more repeats while the rule
            says its comparison is open, judged against the study's completed trials; the baseline gets the most.
        settings: the runner's training settings, whose seed each repeat replaces (None: the runner's own, one repeat).
        settle, poll, heartbeat: of the repeat claims: each repeat is kept in the study's storage
            (``search.repeats.Repeats``), other workers may train the fixed ones while the trial runs, and a later trial
            of the architecture reuses them; heartbeat is ``search.heartbeat``.
    """

    model: str
    fit: Callable[..., Any]
    weights: Path | Sequence[Path] | None
    nc: int
    run_dir: Path
    cost: str = "gflops"
    imgsz: int = 640
    budgets: Mapping[str, float | None] = field(default_factory=dict)
    early_stop: tuple[float, int, float | None] | None = (0.02, 1, None)
    metric: str = "map50_95"
    seed: int = 0
    block_lr_mult: float = 1.0
    gate: bool = True
    repeats: int = 1
    intensify: Intensify | None = None
    settings: Any = None
    settle: float = 1.0
    poll: float = 5.0
    heartbeat: float = 30.0

    def __post_init__(self) -> None:
        if self.most > 1 and self.settings is None:
            raise ValueError("Evaluate: repeats need the training settings, whose seed each repeat changes")

    @functools.cached_property
    def baseline_model(self) -> torch.nn.Module:
        """The architecture without blocks, timed beside each trial's so that latencies compare across loads."""
        return apply(self.model, {}, nc=self.nc).model

    def __call__(self, trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
        blocks = {_site(s): (key, hp) for s, (key, hp) in arch.items()}
        placed = self._place(blocks, 0)
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

        rule = EarlyStop.for_trial(trial.study, my_cost, *self.early_stop, self.draws) if self.early_stop else None
        start = time.perf_counter()
        key = trial.user_attrs.get("arch_key")  # set by the Objective; without it no repeat is shared
        units = Repeats(trial.study, key, self.fixed, self.most, self.settle, self.poll, self.heartbeat)
        last: dict[str, Any] = {}  # the model of the last repeat trained here, saved with the trial

        def train(repeat: int, earlier: list[list[float]] | None) -> tuple[float, list[float]]:
            curve: list[float] = []

            def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
                curve.append(float(metrics[self.metric]))
                if repeat == 0:
                    trial.set_user_attr(CURVE, curve)  # comparable with every trial's repeat 0 (same seed)
                return rule is not None and earlier is not None and rule.should_stop(len(curve), [*earlier, curve])

            last["placed"] = model = placed if repeat == 0 else self._place(blocks, repeat)
            # the trial's logger run takes repeat 0's curves: a second fit would restart its steps at 0
            logged = loggers if repeat == 0 else []
            result = self.fit(model.model, on_epoch=on_epoch, loggers=logged, **self._run(trial, repeat))
            if result.stopped_early:
                raise optuna.TrialPruned(self._stopped(rule, curve, repeat))
            if "map50" in result.metrics and repeat == 0:
                trial.set_user_attr("map50", round(result.metrics["map50"], 5))
            trial.set_user_attr("images_per_s", round(result.images_per_s, 1))
            return round(result.primary, 5), [round(v, 5) for v in curve]

        def record() -> None:
            values, curves = units.ordered()
            trial.set_user_attr(REPEATS, values)
            trial.set_user_attr(REPEAT_CURVES, curves)
            if 0 in units.reused:
                trial.set_user_attr(CURVE, units.curves[0])
            if units.reused:
                trial.set_user_attr(REUSED, sorted(units.reused))

        units.run(train, lambda values: self._more(trial.study, not blocks, values, my_cost), record)
        trial.set_user_attr("train_time_s", round(time.perf_counter() - start, 1))
        values = units.ordered()[0]
        mean = sum(values) / len(values)
        trial.set_user_attr("metric", round(mean, 5))
        self._save(trial, last.get("placed", placed), trained="placed" in last)
        return mean, my_cost

    def help(self, study: optuna.Study) -> bool:
        """Train one free fixed repeat of another worker's running trial (``search.repeats.help_one``)."""

        def train(t: optuna.trial.FrozenTrial, repeat: int) -> tuple[float, list[float]]:
            arch = space.from_json(t.user_attrs["arch"])
            blocks = {_site(s): (key, hp) for s, (key, hp) in arch.items()}
            curve: list[float] = []
            on_epoch = lambda epoch, metrics: curve.append(float(metrics[self.metric])) or False  # noqa: E731
            run = self._run(t, repeat) | {"label": f"help trial {t.number} repeat {repeat + 1}"}
            result = self.fit(self._place(blocks, repeat).model, on_epoch=on_epoch, loggers=[], **run)
            return round(result.primary, 5), [round(v, 5) for v in curve]

        return help_one(study, self.fixed, train, self.settle, self.heartbeat)

    @property
    def fixed(self) -> int:
        """The trainings every architecture gets (other workers may help with them)."""
        return min(self.repeats if self.intensify is None else self.intensify.repeats, self.most)

    @property
    def most(self) -> int:
        """The most trainings an architecture can get."""
        return self.repeats if self.intensify is None else self.intensify.max_repeats

    def _more(self, study: optuna.Study, baseline: bool, values: list[float], cost: float) -> bool:
        """Whether the architecture (``baseline``: the one without blocks) is trained once more."""
        if self.intensify is None:
            return len(values) < self.repeats
        if baseline:
            return len(values) < self.intensify.max_repeats
        done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) if t.values]
        bare = space.describe({})
        base = next((t.user_attrs.get(REPEATS) for t in done if t.user_attrs.get("describe") == bare), None)
        cheaper = [t.user_attrs[REPEATS] for t in done if REPEATS in t.user_attrs and t.values[1] <= cost]
        return self.intensify.more(values, base, cheaper)

    def _stopped(self, rule: EarlyStop, curve: list[float], repeat: int) -> str:
        """Why the early-stopping rule stopped the trial."""
        where = f"stopped at epoch {len(curve)}" + (f" of repeat {repeat + 1}" if self.most > 1 else "")
        if rule.confidence is None:
            return f"{where}: {curve[-1]:.4f} below {rule.threshold(len(curve))} of a cheaper trial"
        return (
            f"{where}: paired difference to a cheaper trial below -{rule.margin} "
            f"(one-sided {rule.confidence:.0%} bound over {repeat + 1} repeats)"
        )

    def _place(self, blocks: dict[int | str, Any], repeat: int) -> Any:
        """The architecture from the baseline weights, its blocks initialised by the repeat's seed."""
        torch.manual_seed(self.seed + repeat)  # the same blocks' weights for every architecture at a repeat
        placed = apply(self.model, blocks, weights=self._draw(repeat), identity_init=self.gate, nc=self.nc)
        mark_blocks(placed.model, self.block_lr_mult)
        return placed

    @property
    def _draws(self) -> list[Path | None]:
        """The trainings of the baseline (``search.baselines``) the repeats cycle through."""
        one = self.weights is None or isinstance(self.weights, str | Path)
        return [self.weights] if one else list(self.weights)

    @property
    def draws(self) -> int:
        """How many trainings of the baseline the repeats cycle through."""
        return len(self._draws)

    def _draw(self, repeat: int) -> Path | None:
        """The baseline weights repeat ``repeat`` starts from."""
        draws = self._draws
        return draws[repeat % len(draws)]

    def _run(self, trial: optuna.Trial, repeat: int) -> dict[str, Any]:
        """The runner's arguments of one repeat: its seed (data order, augmentation) and progress label."""
        total = f"/{self.repeats}" if self.intensify is None else f" (at most {self.most})"
        label = f"trial {trial.number}" + (f" repeat {repeat + 1}{total}" if self.most > 1 else "")
        settings = {} if self.settings is None else {"cfg": replace(self.settings, seed=self.seed + repeat)}
        return {"label": label, **settings}

    def _save(self, trial: optuna.Trial, placed: Any, trained: bool = True) -> None:
        """Keep the trial's weights (and YOLO YAML) so the front's architectures can be copied to ``best/``; no weights
        when every repeat was reused from the study's slots (trained elsewhere).

        YOLO weights are an ultralytics checkpoint (``yolo train model=trial_007.pt`` fine-tunes it further); ResNet
        weights are a state_dict.
        """
        folder = self.run_dir / "trials"
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / f"trial_{trial.number:03d}.pt"
        if trained and placed.yaml is None:
            torch.save(placed.model.state_dict(), weights)
        elif trained:
            model = copy.deepcopy(placed.model).half()
            torch.save({"model": model, "train_args": {}, "epoch": -1, **_stamp()}, weights)
        if trained:
            trial.set_user_attr("weights", str(weights))
        if placed.yaml is not None:
            yaml_path = folder / f"trial_{trial.number:03d}.yaml"
            export_yaml(placed, yaml_path)
            trial.set_user_attr("yaml", str(yaml_path))


def mark_blocks(model: torch.nn.Module, lr_mult: float) -> int:
    """Give the parameters of every inserted block (gated, or a zoo block itself) the runner's ``lr_mult``; returns
    how many were marked.

    The baseline's weights are trained already and should move gently; the blocks are new and must learn within a
    short trial. A zoo class is matched exactly, so a model's own modules of a parent class (ultralytics' ``PSA`` in
    YOLO11) are not new blocks.
    """
    marked = 0
    if lr_mult != 1.0:
        for p in block_parameters(model):
            if getattr(p, LR_MULT, None) is None:
                setattr(p, LR_MULT, lr_mult)
                marked += 1
    return marked


def block_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of every inserted block (its gate's included), each once: what ``mark_blocks`` marks."""
    zoo = {block_class(key) for key in available()}
    found: dict[int, torch.nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, ResidualGate) or type(module) in zoo:
            found.update((id(p), p) for p in module.parameters())  # a gated block's parameters are the gate's
    return list(found.values())


def _stamp() -> dict[str, str]:
    import ultralytics

    return {"date": datetime.now().isoformat(), "version": ultralytics.__version__}


def _site(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text
