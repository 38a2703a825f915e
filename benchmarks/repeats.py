"""What do adaptive repeats save, and do they change the answer? Replayed on the fidelity benchmark's trials.

A fidelity trial CSV (``benchmarks/results/fidelity_trial_<name>.csv``) holds, per architecture and seed, the score of
the search's trial. A replay runs the architectures as a search would, the baseline first (trial 0) and the others in
a random order; repeat j of an architecture is its seed-j run (the search's common seeds). Each policy decides how
many repeats an architecture gets:

- ``fixed:<R>``: every architecture R (``search.repeats=R``);
- ``adaptive:<R>:<M>``: the search's own rule (``search.intensify.Intensify``, ``search.repeats=R
  search.max_repeats=M``) against the trials completed before it, the baseline at M.

Then the report's own test (``search.report.compare_to_baseline``: paired t over common repeats, Holm at 0.05) names
the architectures significantly better and worse than the baseline. Per policy, median [interquartile range] over
the orders: the trainings it spent as a fraction of ``fixed:<M>``'s (M the most repeats of any policy), and in how
many orders it named the same architectures better than the baseline as ``fixed:<M>`` (the claim a user makes; an
architecture the adaptive rule gave up on as worse may have too few repeats to be significantly worse).

Usage (no training; seconds)::

    python -m benchmarks.repeats [--name default] [--orders 200] [--policies fixed:2 adaptive:2:3 ...]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.fidelity import csv_path
from benchmarks.stopping import Run, load, median_iqr
from search.intensify import Intensify
from search.report import ALPHA, compare_to_baseline


@dataclass(frozen=True)
class Policy:
    """How many repeats each architecture gets: ``fixed:<R>`` or ``adaptive:<R>:<M>``."""

    name: str
    repeats: int
    max_repeats: int

    @classmethod
    def parse(cls, text: str) -> Policy:
        kind, *values = text.split(":")
        try:
            if kind == "fixed" and len(values) == 1:
                return cls(text, int(values[0]), int(values[0]))
            if kind == "adaptive" and len(values) == 2 and int(values[0]) <= int(values[1]):
                return cls(text, int(values[0]), int(values[1]))
        except ValueError:
            pass
        raise SystemExit(f"error: --policies: {text!r}; valid: fixed:<R> or adaptive:<R>:<M> with R <= M")


def replay(
    runs: dict[str, Run], order: Sequence[str], policy: Policy, draws: int = 1
) -> tuple[int, dict[str, list[float]]]:
    """(trainings, per-repeat scores per architecture) of one search running ``order`` (the baseline first), its
    repeats from ``draws`` baselines (``search.baselines``)."""
    rule = Intensify(policy.repeats, policy.max_repeats, ALPHA, comparisons=len(order) - 1, draws=draws)
    done: dict[str, list[float]] = {}
    for name in order:
        run = runs[name]
        if name == "baseline":
            values = [run.curves[r][-1] for r in range(policy.max_repeats)]
        else:
            cheaper = [done[n] for n in done if runs[n].gflops <= run.gflops]
            values = []
            while rule.more(values, done.get("baseline"), cheaper):
                values.append(run.curves[len(values)][-1])
        done[name] = values
    return sum(len(v) for v in done.values()), done


def significant(scores: dict[str, list[float]], draws: int = 1) -> tuple[frozenset[str], frozenset[str]]:
    """(better, worse): the architectures the report's test finds significantly above and below the baseline."""
    rows = [
        {"trial": i, "architecture": name, "state": "COMPLETE", "metric": sum(v) / len(v), "reused_from": None,
         "repeat_metrics": " ".join(f"{x:.5f}" for x in v)}
        for i, (name, v) in enumerate(scores.items())
    ]  # fmt: skip
    compare_to_baseline(rows, draws)
    better = frozenset(r["architecture"] for r in rows if r.get("significant") and r["delta"] > 0)
    worse = frozenset(r["architecture"] for r in rows if r.get("significant") and r["delta"] < 0)
    return better, worse


@dataclass
class Measured:
    """One policy over the replayed orders."""

    spent: list[float]  # trainings per order, as a fraction of every architecture at the most repeats
    same: int  # orders whose significantly better architectures equal those of the most repeats
    answers: set[tuple[frozenset[str], frozenset[str]]]  # the distinct (better, worse) it gave


def measure(
    runs: dict[str, Run], policy: Policy, orders: Sequence[Sequence[str]], most: int, draws: int = 1
) -> Measured:
    """Replay ``policy`` on each order and compare its answer with that of ``most`` repeats for everyone."""
    full = Policy(f"fixed:{most}", most, most)
    out = Measured([], 0, set())
    for order in orders:
        trainings, scores = replay(runs, order, policy, draws)
        got = significant(scores, draws)
        out.spent.append(trainings / (most * len(runs)))
        out.same += got[0] == significant(replay(runs, order, full, draws)[1], draws)[0]
        out.answers.add(got)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.repeats", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="default", help="the fidelity trial protocol (default: the shipped)")
    parser.add_argument("--orders", type=int, default=200, help="random orders replayed per policy")
    policies = ["fixed:2", "fixed:3", "adaptive:2:3"]
    parser.add_argument("--policies", nargs="+", default=policies, help="fixed:<R> or adaptive:<R>:<M>")
    args = parser.parse_args(argv)
    path = csv_path("trial", "detect", args.name)
    runs, draws = load(path)
    chosen = [Policy.parse(text) for text in args.policies]
    seeds = min(len(run.curves) for run in runs.values())
    most = max(p.max_repeats for p in chosen)
    if most > seeds:
        raise SystemExit(f"error: --policies: {most} repeats, but fidelity_trial_{args.name}.csv has {seeds} seeds")
    rng = random.Random(0)
    others = [n for n in runs if n != "baseline"]
    orders = [["baseline", *rng.sample(others, len(others))] for _ in range(args.orders)]
    print(
        f"{len(runs)} architectures of fidelity_trial_{args.name}.csv ({draws} starting baseline"
        f"{'s' if draws > 1 else ''}), {args.orders} orders, baseline first"
    )
    print(f"| policy | trainings vs fixed:{most} | same better as fixed:{most} | better | worse |")
    print("|---|---:|---:|---|---|")
    for policy in chosen:
        m = measure(runs, policy, orders, most, draws)
        better, worse = (" / ".join(sorted(", ".join(sorted(a[i])) or "none" for a in m.answers)) for i in (0, 1))
        print(f"| {policy.name} | {median_iqr(m.spent, '.1%')} | {m.same}/{len(orders)} | {better} | {worse} |")


if __name__ == "__main__":
    main()
