"""Is the validation split large enough? The bootstrap over its images of a score and of a paired difference.

The validation images are the same for every seed and architecture, so they add nothing to a score's spread over
seeds; what their number limits is how far a score, or a difference between two models, measured on them holds for
other images of the kind. Resampling the images with replacement (each with all its boxes and predictions) and
recomputing mAP50-95 with ultralytics' ``ap_per_class`` gives that sampling's standard error and 95% percentile
interval: of the starting baseline's score, and of the paired Δ of each architecture trained with the shipped trial
protocol (``benchmarks.fidelity.protocol``, at one seed) against the baseline fine-tuned alike, both on the same
resampled images. The seed σ of the same Δ (``python -m benchmarks.fidelity report``) is the other part of its noise:
a split is large enough when its bootstrap SE is below the differences a search has to resolve.

With ``--reference`` the models are trained as the fidelity reference trains them (from scratch, the baseline's full
schedule) at each of ``--seeds``, and the bootstrap is of the difference between two seeds of one architecture as well:
the part of the reference's seed σ that is the validation images' sampling, not the training's (two seeds' models err
on different images). ``--val-images N`` validates every model again on the first N validation images of the same
data generated with ``data.n_val=N`` (the same training images; the split's images are its first ones), where that
part shrinks as 1/√N. ``--stats FILE`` keeps the per-image statistics, so the tables can be printed again without
training.

Usage (from the repository root; trains each architecture once, about 30 s each on 2 CPU cores; a reference model
about 6 minutes)::

    python -m benchmarks.valnoise [--archs soca@15 coord@4] [--seed 0] [--resamples 1000] [overrides]
    python -m benchmarks.valnoise --reference --archs coord@4 --seeds 0 1 --val-images 3000 --stats valnoise.pkl
"""

from __future__ import annotations

import argparse
import itertools
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from ultralytics.utils.metrics import ap_per_class

from benchmarks import fidelity
from benchmarks.fidelity import DETECT_ARCHS, TASKS, Protocol
from runners.detect import validation_stats
from search.data import resolve_data

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


def measure_reference(
    archs: Sequence[str], seeds: Sequence[int], val_images: int, overrides: Sequence[str] = ()
) -> dict[str, dict[str, dict[str, list[Any]]]]:
    """Per validation split (the data's, and with ``val_images`` the first ``val_images`` of a larger one), the
    per-image statistics of the baseline and each architecture trained from scratch as the fidelity reference trains
    them, at every seed (models named ``<arch> seed <s>``)."""
    task = TASKS["detect"]
    cfg, data, settings = fidelity.reference_setup(task, overrides)
    splits = {f"the split ({cfg.data.n_val} images)": data}
    if val_images:
        big = fidelity.compose_config([*task.overrides, *overrides, f"data.n_val={val_images}"])
        splits[f"{val_images} validation images"] = resolve_data(big.data, big.model.task)
    out: dict[str, dict[str, dict[str, list[Any]]]] = {split: {} for split in splits}
    for name, seed in itertools.product(("baseline", *(a for a in archs if a != "baseline")), seeds):
        placed = fidelity.build(task, DETECT_ARCHS[name], seed, None, 1.0, gate=False)
        task.fit(placed.model, data, replace(settings, seed=seed))
        for split, path in splits.items():
            out[split][f"{name} seed {seed}"] = validation_stats(placed.model, path, settings)
    return out


def reference_pairs(models: Sequence[str]) -> list[tuple[str, str, str]]:
    """(label, model, other) of the differences ``report`` bootstraps for reference models (``<arch> seed <s>``):
    each architecture's seeds against its first, and each block architecture against the baseline at the same seed
    (the reference's paired Δ)."""
    by_arch: dict[str, list[str]] = {}
    for model in models:
        by_arch.setdefault(model.rsplit(" seed ", 1)[0], []).append(model)
    pairs = [(f"{m} − {ms[0]}", m, ms[0]) for ms in by_arch.values() for m in ms[1:]]
    for arch, ms in by_arch.items():
        if arch != "baseline":
            pairs += [(f"{m} − baseline", m, m.replace(arch, "baseline", 1)) for m in ms]
    return [p for p in pairs if p[2] in models]


def report(
    stats: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
    resamples: int,
    seed: int,
    pairs: Sequence[tuple[str, str, str]] | None = None,
) -> str:
    """Two tables: each model's score, and each difference of ``pairs`` (label, model, other; by default each
    architecture against the fine-tuned ``baseline``), both with the bootstrap's SE and interval."""
    boot = bootstrap(stats, resamples, seed)
    first = next(iter(stats.values()))
    n, boxes = len(first["tp"]), sum(len(t) for t in first["target_cls"])
    if pairs is None:
        pairs = [(name, name, "baseline") for name in boot if name not in ("start", "baseline")]
    lines = [
        f"{n} validation images ({boxes} boxes), {resamples} bootstrap resamples of the images (seed {seed})",
        "",
        "| model | mAP50-95 | bootstrap SE | 95% interval |",
        "|---|---:|---:|---:|",
        *(row(name, b["split"], b["draws"]) for name, b in boot.items()),
        "",
        "| difference | Δ | bootstrap SE | 95% interval |",
        "|---|---:|---:|---:|",
    ]
    for label, a, b in pairs:
        lines.append(row(label, boot[a]["split"] - boot[b]["split"], boot[a]["draws"] - boot[b]["draws"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", choices=sorted(DETECT_ARCHS), default=["soca@15", "coord@4"])
    parser.add_argument("--seed", type=int, default=0, help="the trials' seed (trainer.seed) and the bootstrap's")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--reference", action="store_true", help="models trained as the fidelity reference trains them")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="with --reference: the training seeds")
    parser.add_argument("--val-images", type=int, default=0, help="with --reference: also validate on this many")
    parser.add_argument("--stats", type=Path, help="keep the per-image statistics here; read them if it exists")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the search config (data, trainer, ...)")
    args = parser.parse_args(argv)
    if args.stats and args.stats.is_file():
        splits = pickle.loads(args.stats.read_bytes())
    else:
        if args.reference:
            splits = measure_reference(args.archs, args.seeds, args.val_images, args.overrides)
        else:
            setup = fidelity.protocol(TASKS["detect"], args.overrides)
            splits = {"the split": measure(setup, args.archs, args.seed)}
        if args.stats:
            args.stats.write_bytes(pickle.dumps(splits))
    for split, stats in splits.items():
        pairs = reference_pairs(list(stats)) if args.reference else None
        print(f"## {split}\n\n{report(stats, args.resamples, args.seed, pairs)}\n")


if __name__ == "__main__":
    main()
