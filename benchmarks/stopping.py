"""What does early stopping save, and what does it cost the front? Replayed on the fidelity benchmark's curves.

A fidelity trial CSV (``benchmarks/results/fidelity_trial_<name>.csv``) holds, per architecture and seed, the
trial's metric after every epoch. A replay runs the architectures as a search would, in a random order with the
baseline first (trial 0): repeat j of an architecture is its seed-j run (the search's common seeds), and its curve is
fed epoch by epoch to the search's own rule (``search.early_stop.EarlyStop``) built from the trials completed before
it, as ``search.evaluate`` does; a stopped trial's epochs count, its point does not. Against running every trial to
the end, each rule reports, median [interquartile range] over the orders:

- the training epochs it spent, as a fraction of all;
- the trials it stopped;
- the hypervolume of the completed trials' mean scores against GFLOPs, as a fraction of all trials' (reference point:
  the lowest mean and the highest GFLOPs, each 10% of its range beyond, as ``benchmarks.efficiency``);
- how many of the 3 best architectures (by mean) it completed.

Usage (no training; seconds)::

    python -m benchmarks.stopping [--name default] [--orders 200] [--rules raw:0.02 paired:0.95:0.005 ...]
    python -m benchmarks.stopping --csv benchmarks/results/table.csv    # the exhaustive table's 109 architectures

A rule is ``raw:<margin>[:<min_epoch>]`` (one repeat: ``search.early_stop`` with ``confidence`` null, as shipped) or
``paired:<confidence>:<margin>[:<min_epoch>]`` (every trial at ``--repeats``, default 3, the most a CSV of seeds 0-2
has); ``min_epoch`` defaults to 1, no guard (the search ships ``search.early_stop.min_epoch`` 2: write ``:2``).
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.efficiency import hypervolume, reference
from benchmarks.fidelity import baseline_draws, csv_path, read_rows
from search.early_stop import EarlyStop


@dataclass(frozen=True)
class Rule:
    """An early-stopping rule as ``search.early_stop`` configures it, and the repeats a search runs with it."""

    name: str
    margin: float | None  # None: no stopping
    confidence: float | None = None
    min_epoch: int = 1
    repeats: int = 1

    @classmethod
    def parse(cls, text: str, repeats: int) -> Rule:
        """``raw:<margin>[:<min_epoch>]`` or ``paired:<confidence>:<margin>[:<min_epoch>]``."""
        kind, *values = text.split(":")
        try:
            if kind == "raw" and len(values) in (1, 2):
                return cls(text, float(values[0]), None, int(values[1]) if values[1:] else 1)
            if kind == "paired" and len(values) in (2, 3):
                return cls(text, float(values[1]), float(values[0]), int(values[2]) if values[2:] else 1, repeats)
        except ValueError:
            pass
        raise SystemExit(
            f"error: --rules: {text!r}; valid: raw:<margin>[:<min_epoch>] or paired:<confidence>:<margin>[:<min_epoch>]"
        )


@dataclass(frozen=True)
class Run:
    """One architecture: its GFLOPs and its curve per seed."""

    gflops: float
    curves: dict[int, list[float]]


def load(path: Path) -> tuple[dict[str, Run], int]:
    """The architectures of a fidelity trial CSV or of the exhaustive table (``benchmarks/table.py``), and how many
    baselines its seeds started from (seed s from draw s mod that, as repeat s of a search)."""
    header, rows = read_rows(path)
    runs: dict[str, Run] = {}
    for row in rows:
        runs.setdefault(row["arch"], Run(row["gflops"], {})).curves[row["seed"]] = row["curve"]
    if not runs:
        raise SystemExit(
            f"error: {path} holds no runs (python -m benchmarks.fidelity trial, or benchmarks.table build)"
        )
    return runs, baseline_draws(header)


def replay(runs: dict[str, Run], order: Sequence[str], rule: Rule, draws: int = 1) -> tuple[int, set[str]]:
    """(epochs trained, architectures completed) of one search that runs ``order`` under ``rule``, its repeats from
    ``draws`` baselines (``search.baselines``)."""
    epochs, done, completed = 0, [], set()
    for name in order:
        run = runs[name]
        stop = None
        if rule.margin is not None:
            stop = EarlyStop(run.gflops, list(done), rule.margin, rule.min_epoch, rule.confidence, draws)
        curves: list[list[float]] = []
        for repeat in range(rule.repeats):
            curve = run.curves[repeat]
            # a fit cannot stop after its last epoch: the search's module asks only before it
            stopped = next((e for e in range(1, len(curve)) if stop and stop.should_stop(e, [*curves, curve[:e]])), 0)
            epochs += stopped or len(curve)
            if stopped:
                break
            curves.append(curve)
        else:
            done.append((run.gflops, curves))
            completed.add(name)
    return epochs, completed


def score(runs: dict[str, Run], names: Iterable[str], repeats: int) -> dict[str, tuple[float, float]]:
    """(mean metric over the first ``repeats`` seeds, GFLOPs) per architecture."""
    return {n: (statistics.fmean(runs[n].curves[r][-1] for r in range(repeats)), runs[n].gflops) for n in names}


def measure(runs: dict[str, Run], rule: Rule, orders: int, seed: int = 0, draws: int = 1) -> dict[str, list[float]]:
    """Per replayed order: epoch fraction, trials stopped, hypervolume fraction and top-3 kept."""
    points = score(runs, runs, rule.repeats)
    ref = reference(points.values())
    full = hypervolume(points.values(), ref)
    total = sum(len(runs[n].curves[r]) for n in runs for r in range(rule.repeats))
    top3 = set(sorted(points, key=lambda n: -points[n][0])[:3])
    rng = random.Random(seed)
    others = [n for n in runs if n != "baseline"]
    out: dict[str, list[float]] = {"epochs": [], "stopped": [], "hypervolume": [], "top3": []}
    for _ in range(orders):
        epochs, completed = replay(runs, ["baseline", *rng.sample(others, len(others))], rule, draws)
        out["epochs"].append(epochs / total)
        out["stopped"].append(len(runs) - len(completed))
        out["hypervolume"].append(hypervolume((points[n] for n in completed), ref) / full)
        out["top3"].append(len(top3 & completed))
    return out


def median_iqr(values: list[float], fmt: str) -> str:
    """``median [q1, q3]`` of ``values``, each formatted with ``fmt``."""
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{q2:{fmt}} [{q1:{fmt}}, {q3:{fmt}}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stopping", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="default", help="the fidelity trial protocol (default: the shipped)")
    parser.add_argument(
        "--csv", type=Path, default=None, help="another results CSV, e.g. the table's (overrides --name)"
    )
    parser.add_argument("--orders", type=int, default=200, help="random orders replayed per rule")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of a search under a paired rule")
    rules = ["raw:0.02", "raw:0.02:2", "raw:0.01:2", "paired:0.95:0.02", "paired:0.95:0.005", "paired:0.95:0.005:2"]
    parser.add_argument("--rules", nargs="+", default=rules, help="raw:<margin>[:<min_epoch>] or paired:...")
    args = parser.parse_args(argv)
    path = args.csv or csv_path("trial", "detect", args.name)
    runs, draws = load(path)
    rules = [Rule("none", None, repeats=r) for r in sorted({1, args.repeats})]
    rules += [Rule.parse(text, args.repeats) for text in args.rules]
    rows = []
    for rule in rules:
        m = measure(runs, rule, args.orders, draws=draws)
        rows.append([
            rule.name, str(rule.repeats), median_iqr(m["epochs"], ".1%"), median_iqr(m["stopped"], ".0f"),
            median_iqr(m["hypervolume"], ".3f"), median_iqr(m["top3"], ".0f"),
        ])  # fmt: skip
    starts = f"{draws} starting baselines, " if draws > 1 else ""
    print(f"{len(runs)} architectures of {path.name}, {starts}{args.orders} orders per rule, baseline first")
    print("| rule | repeats | epochs trained | trials stopped | hypervolume vs none | top-3 completed |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(f"| {' | '.join(row)} |" for row in rows))


if __name__ == "__main__":
    main()
