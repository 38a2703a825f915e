"""Is the validation split large enough? The bootstrap over its images of a score and of a paired difference.

The validation images are the same for every seed and architecture, so they add nothing to a score's spread over
seeds; what their number limits is how far a score, or a difference between two models, measured on them holds for
other images of the kind. Resampling the images with replacement (each with all its boxes and predictions) and
recomputing mAP50-95 with ultralytics' ``ap_per_class`` gives that sampling's standard error and 95% percentile
interval: of the starting baseline's score, and of the paired Δ of each architecture trained with the shipped trial
protocol (``benchmarks.fidelity.protocol``, at one seed) against the baseline fine-tuned alike, both on the same
resampled images. The seed σ of the same Δ (``python -m benchmarks.fidelity report``) is the other part of its noise:
a split is large enough when its bootstrap SE is below the differences a search has to resolve.

Usage (from the repository root; trains each architecture once, about 30 s each on 2 CPU cores)::

    python -m benchmarks.valnoise [--archs soca@15 coord@4] [--seed 0] [--resamples 1000] [overrides]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from ultralytics.utils.metrics import ap_per_class

from benchmarks import fidelity
from benchmarks.fidelity import DETECT_ARCHS, TASKS, Protocol
from runners.detect import validation_stats

KEYS = ("tp", "conf", "pred_cls", "target_cls")


def map50_95(stats: Mapping[str, Sequence[np.ndarray]], images: Sequence[int]) -> float:
    """mAP50-95 over the given images (indices, repeats allowed) of per-image statistics, as ultralytics computes it."""
    tp, conf, pred_cls, target_cls = (np.concatenate([stats[k][i] for i in images], 0) for k in KEYS)
    if not len(target_cls):
        return 0.0
    ap = ap_per_class(tp, conf, pred_cls, target_cls)[5]  # (classes present, 10 IoU thresholds)
    return float(ap.mean()) if len(ap) else 0.0


def bootstrap(models: Mapping[str, Mapping[str, Sequence[np.ndarray]]], resamples: int, seed: int) -> dict[str, Any]:
    """Per model, its mAP50-95 on each of ``resamples`` resamples of the images, the same resamples for every model
    (so differences are paired), and on the split itself."""
    n = len(next(iter(models.values()))["tp"])
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, n, n) for _ in range(resamples)]
    return {
        name: {"split": map50_95(stats, range(n)), "draws": np.array([map50_95(stats, d) for d in draws])}
        for name, stats in models.items()
    }


def row(name: str, value: float, draws: np.ndarray) -> str:
    """A markdown row: the value on the split, the bootstrap SE and the 95% percentile interval."""
    low, high = np.percentile(draws, [2.5, 97.5])
    return f"| {name} | {value:+.4f} | {draws.std(ddof=1):.4f} | [{low:+.4f}, {high:+.4f}] |"


def measure(setup: Protocol, archs: Sequence[str], seed: int) -> dict[str, dict[str, list[Any]]]:
    """Per-image statistics of the starting baseline and of each architecture (``baseline`` fine-tuned as a trial among
    them) after the trial protocol at ``seed``."""
    models = {"start": fidelity.build(setup.task, {}, seed, setup.weights, setup.block_lr_mult, setup.gate).model}
    for name in ("baseline", *(a for a in archs if a != "baseline")):
        placed = fidelity.build(setup.task, DETECT_ARCHS[name], seed, setup.weights, setup.block_lr_mult, setup.gate)
        setup.task.fit(placed.model, setup.data, replace(setup.settings, seed=seed))
        models[name] = placed.model
    return {name: validation_stats(model, setup.data, setup.settings) for name, model in models.items()}


def report(stats: Mapping[str, Mapping[str, Sequence[np.ndarray]]], resamples: int, seed: int) -> str:
    """The two tables: each model's score, and each architecture's paired Δ to the fine-tuned baseline."""
    boot = bootstrap(stats, resamples, seed)
    n = len(stats["start"]["tp"])
    boxes = sum(len(t) for t in stats["start"]["target_cls"])
    lines = [
        f"{n} validation images ({boxes} boxes), {resamples} bootstrap resamples of the images (seed {seed})",
        "",
        "| model | mAP50-95 | bootstrap SE | 95% interval |",
        "|---|---:|---:|---:|",
        *(row(name, b["split"], b["draws"]) for name, b in boot.items()),
        "",
        "| architecture | Δ to the baseline (fine-tuned alike) | bootstrap SE | 95% interval |",
        "|---|---:|---:|---:|",
    ]
    base = boot["baseline"]
    for name, b in boot.items():
        if name not in ("start", "baseline"):
            lines.append(row(name, b["split"] - base["split"], b["draws"] - base["draws"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", choices=sorted(DETECT_ARCHS), default=["soca@15", "coord@4"])
    parser.add_argument("--seed", type=int, default=0, help="the trials' seed (trainer.seed) and the bootstrap's")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the search config (data, trainer, ...)")
    args = parser.parse_args(argv)
    setup = fidelity.protocol(TASKS["detect"], args.overrides)
    print(report(measure(setup, args.archs, args.seed), args.resamples, args.seed))


if __name__ == "__main__":
    main()
