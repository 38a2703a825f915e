"""Sampler efficiency: searches replayed against the exhaustive table (``benchmarks/table.py``) instead of training.

A replay is an Optuna study run by the search's own objective (``search.objective.Objective``: ``search.space.sample``
on one of the table's spaces, the baseline enqueued as trial 0, an architecture met again reusing its first result)
whose evaluation looks the architecture up in the table, so the sampler sees the parameter names, canonical keys and
values of a real search; the objectives are the search's, mAP50-95 maximised and GFLOPs minimised. Meeting an
architecture the table lacks is impossible within the space, and asserted.

- **Noise.** A real trial's score is one training (with ``search.repeats=R``, the mean of R at seeds
  ``trainer.seed + k``, shared by every architecture). Replay seed s draws R of the table's stored repeats, the same
  ones for every architecture (common random numbers), and a trial scores their mean: a real trial's score, noise
  included. The seed also seeds the sampler.
- **Hypervolume.** After each trial: the hypervolume of the architectures evaluated so far, each at its mean over
  the stored repeats (what it is worth, not what its noisy trial said), over that of the exhaustive front (every
  architecture of the space at its mean), by Optuna's ``compute_hypervolume``. Reference point: the space's lowest mAP
  and highest GFLOPs, each 10% of its range beyond. (``hypervolume.html``'s mAP 0 and 1.1 × the highest cost would
  give the baseline alone about 95% of the exhaustive hypervolume, blocks moving mAP by hundredths: every sampler
  would reach 90% at trial 1.)
- **Samplers.** Every shipped config (``conf/search/sampler/*.yaml``; the grid over ``search.space.grid``, as the search
  builds it: the enqueued baseline takes none of its points, so it has covered the space after its size + 1 trials)
  and ``EXTRA``; one that fails on this study (raises ``ValueError`` or ``NotImplementedError``) is skipped with a
  note.
- **Screens.** ``--sites`` replays each sampler on those of the space's sites only (what the search's site screen,
  ``search.inert``, leaves) and again on all of them as ``NAME@all``, at the same seeds; both are judged against the
  whole space's exhaustive front, so ``--against NAME@all`` is the paired test of what the screen saves.
- **Budgets.** Each replay runs ``--budget`` × the space's size trials (1.0: as many trials as architectures); every
  shorter budget is read off the same curve.

Printed: per sampler, the trials (the baseline's included, as ``search.n_trials`` counts them) to 90% and 95% of the
exhaustive hypervolume, median [interquartile range] over seeds (order statistics; ``> n``: not within the budget of n
trials), random's (or ``--against``'s) median over the sampler's at 95% (a bound where one is beyond the budget), a
paired sign test against it (seed s replays the same noise draw for every sampler: on how many seeds the sampler
reaches 95% sooner, on how many later, and the two-sided binomial p; ties dropped; in brackets Holm's adjustment over
the samplers compared, since the best of several samplers is the one a reader will pick), and the median hypervolume
fraction at 5, 10, 25, 50 and 100% of the space. Plotted (``--out``): median hypervolume fraction versus trials, with
the interquartile band, per sampler.

Usage (from the repository root; no training)::

    python -m benchmarks.efficiency [--space pair] [--seeds 20] [--first-seed 0] [--repeats 1] [--budget 1.0]
    python -m benchmarks.efficiency --samplers gp tpe random --seeds 40 --first-seed 20   # a confirmation
    python -m benchmarks.efficiency --space single --out benchmarks/results/efficiency_single.png
    python -m benchmarks.efficiency --sites 12 15 --samplers gp random --against gp@all   # what the site screen saves
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import itertools
import math
import random
import statistics
import sys
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from omegaconf import DictConfig, OmegaConf
from optuna._hypervolume import compute_hypervolume
from scipy.stats import binomtest

from benchmarks import table
from benchmarks.fidelity import compose_config, read_rows
from search import space
from search.objective import Objective
from search.stats import holm
from search.study import create, make_sampler

Point = tuple[float, float]  # (mAP50-95, GFLOPs)
LEVELS = (0.9, 0.95)
WHOLE = "@all"  # with --sites, a sampler's name with this suffix is its replay on the whole space
BUDGETS = (0.05, 0.1, 0.25, 0.5, 1.0)
EXTRA: dict[str, dict[str, Any]] = {  # samplers the search does not ship, as Hydra specs like conf/search/sampler/
    "tpe_group": {"_target_": "optuna.samplers.TPESampler", "multivariate": True, "group": True},
    "nsga3": {"_target_": "optuna.samplers.NSGAIIISampler", "population_size": 8},  # nsga2.yaml's population
    "gp_start5": {"_target_": "optuna.samplers.GPSampler", "n_startup_trials": 5, "warn_independent_sampling": False},
}


@dataclass(frozen=True)
class Scores:
    """One space's architectures in the table, by canonical key: each stored repeat's mAP, and the GFLOPs."""

    repeats: dict[str, dict[int, float]]
    gflops: dict[str, float]

    @property
    def common(self) -> list[int]:
        """The repeats every architecture has."""
        return sorted(set.intersection(*(set(r) for r in self.repeats.values())))

    def mean(self) -> dict[str, Point]:
        """Each architecture at its mean over the repeats every architecture has."""
        return {k: (statistics.fmean(r[i] for i in self.common), self.gflops[k]) for k, r in self.repeats.items()}

    def draw(self, seed: int, repeats: int) -> dict[str, Point]:
        """A replay's scores: the mean of ``repeats`` stored repeats drawn with ``seed``, the same for every one."""
        chosen = random.Random(seed).sample(self.common, repeats)
        return {k: (statistics.fmean(r[i] for i in chosen), self.gflops[k]) for k, r in self.repeats.items()}


def load(path: Path, sp: table.Space) -> Scores:
    """The table's runs of the architectures of ``sp``; exits naming what is missing when it lacks one."""
    wanted = sp.architectures()
    rows = [row for row in read_rows(path)[1] if row["blocks"] in wanted]
    repeats = table.repeat_scores(rows)
    gflops = {row["blocks"]: row["gflops"] for row in rows}
    missing = [space.describe(arch) for k, arch in wanted.items() if k not in repeats]
    if missing:
        sys.exit(
            f"error: {path} lacks {len(missing)} of the space's {len(wanted)} architectures, e.g. {missing[0]} "
            "(python -m benchmarks.table build)"
        )
    return Scores(repeats, gflops)


def reference(points: Iterable[Point]) -> Point:
    """The hypervolume's reference point: the lowest mAP and the highest GFLOPs, each 10% of its range beyond."""
    metric, cost = zip(*points, strict=True)
    return min(metric) - 0.1 * (max(metric) - min(metric)), max(cost) + 0.1 * (max(cost) - min(cost))


def hypervolume(points: Iterable[Point], ref: Point) -> float:
    """Optuna's hypervolume of (mAP, GFLOPs) points, mAP maximised and GFLOPs minimised, up to ``ref``."""
    losses = np.array([(-metric, cost) for metric, cost in points], dtype=float)
    return float(compute_hypervolume(losses, np.array([-ref[0], ref[1]])))


def front(points: Mapping[str, Point]) -> list[str]:
    """The keys on the Pareto front of ``points``, as the search finds its front (``study.best_trials``)."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trials([optuna.trial.create_trial(values=list(p), user_attrs={"key": k}) for k, p in points.items()])
    return [t.user_attrs["key"] for t in sorted(study.best_trials, key=lambda t: t.values[1])]


@functools.cache
def sampler_specs() -> dict[str, DictConfig]:
    """Every shipped sampler config (``conf/search/sampler/``, as the search composes it), then ``EXTRA``."""
    folder = importlib.resources.files("search.conf") / "search" / "sampler"
    names = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    shipped = {name: compose_config([f"search/sampler={name}"]).search.sampler for name in names}
    return shipped | {name: OmegaConf.create(spec) for name, spec in EXTRA.items()}


def replay(spec: DictConfig, sp: table.Space, scores: Mapping[str, Point], n_trials: int, seed: int) -> list[str]:
    """A search of ``n_trials`` trials (fewer if a grid runs out) scored from ``scores``; each trial's canonical key."""

    def evaluate(trial: optuna.Trial, arch: space.Architecture, loggers: list) -> Point:
        assert table.key(arch) in scores, f"the replay met {space.describe(arch)}, which the space does not hold"
        return scores[table.key(arch)]

    objective = Objective(evaluate, sp.sites, sp.candidates, max_blocks=sp.max_blocks, sample_hparams=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = create(
            optuna.storages.InMemoryStorage(),
            "replay",
            make_sampler(spec, sp.sites, sp.blocks, sp.max_blocks, seed=seed),
            resume=False,
        )
        study.enqueue_trial(space.baseline_params(list(sp.blocks), sp.max_blocks))
        study.optimize(objective, n_trials=n_trials)
    return [table.key(space.from_json(t.user_attrs["arch"])) for t in study.trials]


def curve(keys: Sequence[str], points: Mapping[str, Point], ref: Point, best: float, length: int) -> list[float]:
    """The hypervolume fraction after each of ``length`` trials, the architectures met so far at their ``points``;
    a replay that stopped early (its grid ran out) keeps its last value."""
    seen: set[str] = set()
    fractions: list[float] = []
    for k in keys[:length]:
        if k not in seen:
            seen.add(k)
            value = hypervolume([points[s] for s in seen], ref) / best
        fractions.append(value)
    return fractions + fractions[-1:] * (length - len(fractions))


def budget_trials(fraction: float, size: int) -> int:
    """Trials of a budget given as a fraction of the space's ``size``, rounded up (at least 1)."""
    return max(1, math.ceil(fraction * size - 1e-9))


def trials_to(fractions: Sequence[float], level: float) -> float:
    """Trials until ``fractions`` reaches ``level`` (the first trial is 1); inf if it never does."""
    return next((n for n, value in enumerate(fractions, 1) if value >= level - 1e-9), math.inf)


def quartiles(values: Sequence[float]) -> list[float]:
    """25th, 50th and 75th percentiles as order statistics (inverted CDF), so that inf values stay meaningful."""
    return [float(q) for q in np.quantile(values, [0.25, 0.5, 0.75], method="inverted_cdf")]


def summary(curves: Mapping[str, Sequence[Sequence[float]]], size: int, against: str = "random") -> str:
    """The markdown tables: trials to 90% and 95% of the exhaustive hypervolume, each sampler compared with the
    sampler ``against``, and the fraction at each budget."""
    length = len(next(iter(curves.values()))[0])
    shown = lambda q: f"> {length}" if math.isinf(q) else f"{q:.0f}"  # noqa: E731
    steps = {
        name: {level: quartiles([trials_to(c, level) for c in runs]) for level in LEVELS}
        for name, runs in curves.items()
    }
    base = steps[against][LEVELS[-1]][1] if against in steps else math.nan
    tests = {n: sign_test(runs, curves[against]) for n, runs in curves.items() if n != against and against in curves}
    adjusted = dict(zip(tests, holm([p for _, _, p in tests.values()]), strict=True))
    lines = [
        f"| sampler | trials to 90% HV | trials to 95% HV | ratio to {against} (95%) "
        f"| sooner/later than {against}, p (Holm) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, by in steps.items():
        cells = [f"{shown(mid)} [{shown(low)}, {shown(high)}]" for low, mid, high in (by[level] for level in LEVELS)]
        sooner, later, p = tests.get(name, (0, 0, math.nan))
        test = f"{sooner}/{later}, p {p:.2g} ({adjusted[name]:.2g})" if name in tests else "—"
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {ratio(base, by[LEVELS[-1]][1], length)} | {test} |")
    budgets = [(b, budget_trials(b, size)) for b in BUDGETS if budget_trials(b, size) <= length]
    lines += [
        "",
        "| sampler | " + " | ".join(f"HV at {b:.0%} ({n} trials)" for b, n in budgets) + " |",
        "|---|" + "---:|" * len(budgets),
    ]
    for name, runs in curves.items():
        cells = [f"{statistics.median(c[n - 1] for c in runs):.3f}" for _, n in budgets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sign_test(runs: Sequence[Sequence[float]], other: Sequence[Sequence[float]]) -> tuple[int, int, float]:
    """Paired by seed (the same noise draw for both samplers): seeds on which the sampler reaches 95% of the exhaustive
    hypervolume in fewer trials than the ``other``, in more, and the two-sided sign test's p (ties, both beyond the
    budget included, dropped)."""
    level = LEVELS[-1]
    pairs = [(trials_to(a, level), trials_to(b, level)) for a, b in zip(runs, other, strict=True)]
    sooner, later = sum(a < b for a, b in pairs), sum(a > b for a, b in pairs)
    p = binomtest(sooner, sooner + later).pvalue if sooner + later else 1.0
    return sooner, later, float(p)


def ratio(base: float, median: float, length: int) -> str:
    """The compared-with sampler's median trials over a sampler's; a bound where one is beyond the budget ``length``."""
    if math.isnan(base) or (math.isinf(base) and math.isinf(median)):
        return "—"
    if math.isinf(median):
        return f"< {base / length:.2f}×"
    return f"> {length / median:.2f}×" if math.isinf(base) else f"{base / median:.2f}×"


def plot(curves: Mapping[str, Sequence[Sequence[float]]], path: Path, title: str) -> None:
    """Median hypervolume fraction versus trials per sampler, with its interquartile band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, runs in curves.items():
        low, mid, high = np.percentile(np.array(runs), [25, 50, 75], axis=0)
        trials = np.arange(1, len(mid) + 1)
        (line,) = ax.plot(trials, mid, lw=1.4, label=name)
        ax.fill_between(trials, low, high, color=line.get_color(), alpha=0.15, lw=0)
    for level in LEVELS:
        ax.axhline(level, c="grey", ls=":", lw=0.8)
    ax.set_xlabel("trials (the baseline's included)")
    ax.set_ylabel("hypervolume / exhaustive hypervolume")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run(args: argparse.Namespace) -> str:
    """Replay every sampler asked for on the space, write the plot; the printed report."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sp = table.spaces()[args.space]
    path = table.csv_path(args.name)
    scores = load(path, sp)
    if not 1 <= args.repeats <= len(scores.common):
        sys.exit(f"error: --repeats {args.repeats}: the table holds {len(scores.common)} repeats of every architecture")
    points = scores.mean()
    ref = reference(points.values())
    best = hypervolume(points.values(), ref)
    if best <= 0:
        sys.exit(f"error: the space's architectures span no hypervolume (mAP or GFLOPs all equal) in {path}")
    n_trials = budget_trials(args.budget, len(points))
    searched = replace(sp, sites=tuple(args.sites)) if args.sites else sp  # a screened space, judged by the whole's
    specs = sampler_specs()
    curves: dict[str, list[list[float]]] = {}
    variants = [("", searched), *([(WHOLE, sp)] if args.sites else [])]  # NAME@all: the whole space, same seeds
    for name, (suffix, searching) in itertools.product(args.samplers or specs, variants):
        label = name + suffix
        start = time.perf_counter()
        try:
            seeds = range(args.first_seed, args.first_seed + args.seeds)
            keys = [replay(specs[name], searching, scores.draw(s, args.repeats), n_trials, s) for s in seeds]
        except (ValueError, NotImplementedError) as err:  # a sampler that cannot run this study
            print(f"note: sampler {label} skipped: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        curves[label] = [curve(k, points, ref, best, n_trials) for k in keys]
        print(f"{label}: {args.seeds} replays, {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    on_front = [f"{space.describe(space.from_json(k))} at {points[k][0]:.4f}" for k in front(points)]
    out = args.out or table.RESULTS / f"efficiency_{args.space}{f'_{args.name}' if args.name else ''}.png"
    title = f"space {args.space} ({len(points)} architectures), {args.seeds} seeds, search.repeats={args.repeats}"
    plot(curves, Path(out), title)
    return "\n".join(
        [
            f"space {args.space}: {len(points)} architectures (at most {sp.max_blocks} of {', '.join(sp.blocks)} at "
            f"sites {', '.join(sp.sites)}), table {path} ({len(scores.common)} repeats of each)",
            *(
                [
                    f"searched: sites {', '.join(searched.sites)} only (--sites), against the whole space's front; "
                    f"NAME{WHOLE}: the sampler on every site, at the same seeds"
                ]
                if args.sites
                else []
            ),
            f"{args.seeds} seeds per sampler ({args.first_seed} to {args.first_seed + args.seeds - 1}), {n_trials} "
            f"trials each; a trial scores the mean of {args.repeats} "
            "stored repeat(s) drawn by the seed, the same for every architecture",
            f"exhaustive front (means over the repeats): {len(on_front)} architectures ({', '.join(on_front)}), "
            f"hypervolume {best:.4g}; reference point map50_95 {ref[0]:.4f}, gflops {ref[1]:.4f}",
            "",
            summary(curves, len(points), args.against),
            "",
            f"plot: {out}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="pair", help="the table's space: single or pair (benchmarks/table.py)")
    parser.add_argument("--name", default="", help="the table: results/table_<name>.csv (default results/table.csv)")
    parser.add_argument("--seeds", type=int, default=20, help="replays per sampler (seeds F to F+N-1)")
    parser.add_argument("--first-seed", type=int, default=0, help="F: fresh seeds confirm what earlier ones suggested")
    parser.add_argument("--repeats", type=int, default=1, help="search.repeats of the replayed search")
    parser.add_argument("--budget", type=float, default=1.0, help="trials per replay, as a fraction of the space")
    parser.add_argument("--samplers", nargs="+", default=None, help="default: all (conf/search/sampler/ and EXTRA)")
    parser.add_argument("--against", default="random", help="the sampler the others are compared with (one run)")
    parser.add_argument("--out", type=Path, default=None, help="the plot (default results/efficiency_<space>.png)")
    parser.add_argument("--sites", nargs="+", default=None, help="search only these of the space's sites (a screen)")
    args = parser.parse_args(argv)
    if args.space not in table.spaces():
        parser.error(f"--space {args.space!r}; valid: {', '.join(table.spaces())}")
    if args.sites and not set(args.sites) <= set(table.spaces()[args.space].sites):
        parser.error(f"--sites {' '.join(args.sites)}; valid: some of {', '.join(table.spaces()[args.space].sites)}")
    names = args.samplers or list(sampler_specs())
    run_names = [*names, *([f"{n}{WHOLE}" for n in names] if args.sites else [])]
    if args.against not in run_names:
        parser.error(f"--against {args.against!r}: valid: one of the samplers run ({', '.join(run_names)})")
    unknown = set(args.samplers or ()) - set(sampler_specs())
    if unknown:
        parser.error(f"--samplers: unknown {', '.join(sorted(unknown))}; valid: {', '.join(sampler_specs())}")
    print(run(args))


if __name__ == "__main__":
    main()
