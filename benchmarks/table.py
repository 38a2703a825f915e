"""The exhaustive table: every architecture of a small real search space, scored with the shipped trial protocol.

Two spaces of yolov8n on the default data, blocks at their paper defaults (``SPACES``), each exactly what
``search.space.sample`` draws with its sites, blocks and ``max_blocks``, so that a search replayed against the table
(``benchmarks/efficiency.py``) can only meet architectures the table holds:

- ``single``: one block of 9 kinds (channel gates, spatial, self-attention, second-order) at any of the 6 neck sites,
  or none (55 architectures);
- ``pair``: up to two of the default search's blocks (PSA, CBAM, SOCA) on the neck's 4 C2f outputs (67 architectures,
  13 of them also in ``single``).

Each (architecture, repeat) is trained like a search's trial (``benchmarks.fidelity.train_one``: fine-tuned from the
baseline the search caches, identity-initialised blocks, ``search.block_lr_mult``, to the last epoch: no early
stopping), repeat k at seed ``trainer.seed + k`` for every architecture (common random numbers, as ``search.repeats``).
Every finished run is appended to ``benchmarks/results/table.csv`` at once, with the command, date and settings in
its header: an interrupted build resumes where it stopped, and a build with other settings is refused. The columns are
fidelity's (``metric``, ``curve``, ``gflops``, ``params``, ...) plus ``blocks`` (the canonical architecture as JSON,
``search.space.to_json``), ``repeat`` and ``latency_ms`` (the cost model's single-thread CPU forward time, measured
beside the training: wall time under the machine's load, not used by the replay).

Usage (from the repository root; one training at a time)::

    python -m benchmarks.table build [--repeats 3] [--limit N] [--shard K/N] [overrides]   # train what it lacks (hours)
    python -m benchmarks.table list [--repeats 3]                             # architectures, runs done
    python -m benchmarks.table heatmap [--space single] [--out PNG]           # the block × site map of the table
    python -m benchmarks.table curves [--top 3]                               # curves against the baseline's
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock

from benchmarks import fidelity
from benchmarks.fidelity import TASKS, open_results, read_rows
from search import space
from search.heatmap import plot_heatmap
from search.placement import sites
from search.report import ALPHA
from search.stats import holm, paired

RESULTS = fidelity.RESULTS
FIELDS = ["arch", "blocks", "repeat", *fidelity.FIELDS[1:], "latency_ms"]
SINGLE_BLOCKS = ("se", "eca", "cbam", "coord", "sge", "gam", "psa", "double", "soca")
PAIR_BLOCKS = ("psa", "cbam", "soca")  # the default search's attn


@dataclass(frozen=True)
class Space:
    """A search space: ``search.space.sample``'s sites and ``max_blocks``, its blocks at their paper defaults."""

    sites: tuple[str, ...]
    blocks: tuple[str, ...]
    max_blocks: int

    @property
    def candidates(self) -> dict[str, dict[str, list[Any]]]:
        """``search.space.sample``'s candidates: no hyperparameter is sampled."""
        return {block: {} for block in self.blocks}

    def sample(self, trial: optuna.Trial) -> space.Architecture:
        """The architecture ``trial`` draws, as a search with this space draws it."""
        return space.sample(trial, self.sites, self.candidates, self.max_blocks, sample_hparams=False)

    def architectures(self) -> dict[str, space.Architecture]:
        """Every architecture of the space by its canonical key (:func:`key`), the baseline first.

        Each point of the space's grid (``search.space.grid``) is drawn by :meth:`sample`, so equal architectures
        reached by different parameters (a site given twice, slots in another order) are one entry, as in a search.
        """
        grid = space.grid(self.sites, self.blocks, self.max_blocks)
        archs: dict[str, space.Architecture] = {}
        for values in itertools.product(*grid.values()):
            arch = space.canonical(self.sample(optuna.trial.FixedTrial(dict(zip(grid, values, strict=True)))))
            archs.setdefault(key(arch), arch)
        return archs


def key(arch: space.Architecture) -> str:
    """The canonical key of an architecture (the table's ``blocks`` column): its canonical form as JSON."""
    return space.to_json(space.canonical(arch))


@functools.cache
def spaces() -> dict[str, Space]:
    """The spaces the table covers (module docstring)."""
    neck = sites(TASKS["detect"].model, where="neck")
    return {
        "single": Space(tuple(str(s.index) for s in neck), SINGLE_BLOCKS, 1),
        "pair": Space(tuple(str(s.index) for s in neck if s.module == "C2f"), PAIR_BLOCKS, 2),
    }


def architectures() -> dict[str, space.Architecture]:
    """Every architecture of every space, by canonical key: the baseline, then each space's new ones."""
    return {k: a for sp in spaces().values() for k, a in sp.architectures().items()}


def csv_path(name: str = "") -> Path:
    """``results/table[_<name>].csv``."""
    return RESULTS / f"table{f'_{name}' if name else ''}.csv"


def protocol(overrides: Sequence[str]) -> tuple[dict[str, str], int, Callable[[dict[int, str], int], dict[str, Any]]]:
    """The search's trial protocol (shipped, or with Hydra ``overrides``), as ``python -m benchmarks.fidelity trial``
    sets it up (``fidelity.protocol``): the table's header settings, ``trainer.seed`` and ``train(blocks, seed)``.

    Composing it trains and caches the baseline the search would start from, if it is not cached yet.
    """
    setup = fidelity.protocol(TASKS["detect"], overrides)
    return setup.header, int(setup.settings.seed), setup.train


def build(
    path: Path,
    header: Mapping[str, str],
    train: Callable[[dict[int, str], int], dict[str, Any]],
    archs: Mapping[str, space.Architecture],
    seeds: Sequence[int],
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
) -> int:
    """Train the (architecture, repeat) runs the table at ``path`` lacks, repeat 0 of every architecture first,
    appending each as it finishes; repeat k trains at ``seeds[k]``. Stops after ``limit`` runs; returns how many ran.

    ``shard=(k, n)`` trains only every n-th run of the whole table from the k-th on (those still missing), so that n
    processes (one core each) build it together without training a run twice, whenever each starts or resumes; each
    appends its rows under a file lock.
    """
    done = open_results(path, header, FIELDS)
    runs = [(repeat, seed, arch) for repeat, seed in enumerate(seeds) for arch in archs.values()]
    todo = [(r, s, a) for r, s, a in runs[shard[0] :: shard[1]] if (space.describe(a), s) not in done][:limit]
    for i, (repeat, seed, arch) in enumerate(todo, 1):
        start = time.perf_counter()
        blocks = {int(site): block for site, (block, _) in arch.items()}
        row = {"arch": space.describe(arch), "blocks": key(arch), "repeat": repeat, **train(blocks, seed)}
        with FileLock(f"{path}.lock"), path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow(row)
        took = time.perf_counter() - start
        print(f"[{i}/{len(todo)}] {row['arch']} repeat {repeat}: {row['metric']:.4f} ({took:.0f} s)", flush=True)
    return len(todo)


def listing(path: Path, repeats: int) -> str:
    """How many architectures each space and the table have, and how many of their runs are done."""
    _, rows = read_rows(path)
    runs: dict[str, set[int]] = {}
    for row in rows:
        runs.setdefault(row["blocks"], set()).add(int(row["repeat"]))
    every = architectures()
    complete = lambda keys: sum(set(range(repeats)) <= runs.get(k, set()) for k in keys)  # noqa: E731
    done = sum(len(runs.get(k, set()) & set(range(repeats))) for k in every)
    lines = [f"{path}: {len(every)} architectures, {done} of {len(every) * repeats} runs done ({repeats} repeats)"]
    for name, sp in spaces().items():
        keys = sp.architectures()
        lines.append(
            f"  {name}: {len(keys)} architectures (at most {sp.max_blocks} of {', '.join(sp.blocks)} at sites "
            f"{', '.join(sp.sites)}), {complete(keys)} with all {repeats} repeats"
        )
    other = len(runs.keys() - every.keys())
    if other:
        lines.append(f"  and {other} architectures outside these spaces")
    return "\n".join(lines)


def _shard(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N), 0 <= K < N."""
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N with 0 <= K < N, e.g. 0/2")
    return int(k), int(n)


def repeat_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[int, float]]:
    """Each architecture's (canonical key) metric at each of its stored repeats."""
    scores: dict[str, dict[int, float]] = {}
    for row in rows:
        scores.setdefault(row["blocks"], {})[int(row["repeat"])] = float(row["metric"])
    return scores


def heatmap_rows(rows: Sequence[Mapping[str, Any]], sp: Space) -> list[dict[str, Any]]:
    """The table's single-block architectures of ``sp`` as ``search.heatmap`` reads a study's trials: each one's mean
    paired Δ to the baseline over the repeats both have (``search.stats.paired``), significant where its Holm-adjusted
    p (over these architectures, the map's family of comparisons) is below 0.05, as ``trials.csv`` decides."""
    scores = repeat_scores(rows)
    base = scores.get(key({}), {})
    singles = [(k, arch) for k, arch in sp.architectures().items() if len(arch) == 1 and k in scores]
    tests = []
    for k, _ in singles:
        common = sorted(set(scores[k]) & set(base))
        tests.append(paired([scores[k][r] for r in common], [base[r] for r in common]))
    adjusted = holm([t.p_value for t in tests])
    return [
        {"state": "COMPLETE", "reused_from": None, "delta": t.delta, "significant": p < ALPHA,
         **{f"site_{site}": block for site, (block, _) in arch.items()}}
        for (_, arch), t, p in zip(singles, tests, adjusted, strict=True)
    ]  # fmt: skip


def curve_deltas(rows: Iterable[Mapping[str, Any]], sp: Space, top: int = 3) -> str:
    """Two markdown tables of each run's curve minus the baseline's at the same repeat (common random numbers): per
    site of ``sp``, over its single-block runs, the largest and the median of each run's largest |Δ| over the epochs
    (a site where both are near 0 cannot change a trial); and the ``top`` architectures by mean final metric, their
    paired Δ at each epoch, lowest and highest over the repeats."""
    curves: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        curves.setdefault(row["blocks"], {})[int(row["repeat"])] = list(row["curve"])
    base = curves[key({})]
    deltas = {k: {r: [a - b for a, b in zip(c, base[r], strict=True)] for r, c in by.items() if r in base}
              for k, by in curves.items()}  # fmt: skip
    lines = ["| site | single-block runs | largest |Δ| of a run's curve | median |", "|---|---:|---:|---:|"]
    for site in sp.sites:
        worst = [max(map(abs, d)) for k, arch in sp.architectures().items() if list(arch) == [site] and k in deltas
                 for d in deltas[k].values()]  # fmt: skip
        if worst:
            lines.append(f"| {site} | {len(worst)} | {max(worst):.5f} | {statistics.median(worst):.5f} |")
    final = {k: statistics.fmean(c[-1] for c in by.values()) for k, by in curves.items()}
    epochs = len(next(iter(base.values())))
    lines += ["", "| architecture | " + " | ".join(f"Δ at epoch {e + 1}" for e in range(epochs)) + " |",
              "|---|" + "---:|" * epochs]  # fmt: skip
    for k in sorted(final, key=lambda k: -final[k])[:top]:
        cells = [f"{min(d[e] for d in deltas[k].values()):+.4f} to {max(d[e] for d in deltas[k].values()):+.4f}"
                 for e in range(epochs)]  # fmt: skip
        lines.append(f"| {space.describe(space.from_json(k))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "list", "heatmap", "curves"):
        p = sub.add_parser(name)
        p.add_argument("--name", default="", help="table name: results/table_<name>.csv (another protocol)")
        if name == "curves":
            p.add_argument("--top", type=int, default=3, help="architectures by mean final metric whose Δ to show")
            continue
        if name == "heatmap":
            p.add_argument("--space", default="single", choices=sorted(spaces()), help="the space whose blocks map")
            p.add_argument("--out", type=Path, default=None, help="default results/heatmap_<space>.png")
            continue
        p.add_argument("--repeats", type=int, default=3, help="repeats per architecture (seeds trainer.seed + k)")
        if name == "build":
            p.add_argument("--limit", type=int, default=None, help="train at most this many runs now")
            p.add_argument("--shard", type=_shard, default=(0, 1), help="K/N: every N-th run from the K-th")
            p.add_argument("overrides", nargs="*", help="Hydra overrides of the search config, e.g. trainer.lr0=5e-4")
    args = parser.parse_args(argv)
    path = csv_path(args.name)
    if args.command == "list":
        print(listing(path, args.repeats))
        return
    if args.command == "curves":
        print(curve_deltas(read_rows(path)[1], spaces()["single"], args.top))
        return
    if args.command == "heatmap":
        out = args.out or RESULTS / f"heatmap_{args.space}{f'_{args.name}' if args.name else ''}.png"
        mapped = heatmap_rows(read_rows(path)[1], spaces()[args.space])
        plot_heatmap(mapped, "map50_95", out)
        better = sum(r["significant"] and r["delta"] > 0 for r in mapped)
        worse = sum(r["significant"] and r["delta"] < 0 for r in mapped)
        print(f"{out}: {len(mapped)} block × site cells, {better} better and {worse} worse than the baseline (Holm)")
        return
    settings, seed, train = protocol(args.overrides)
    command = ["python -m benchmarks.table build", *(["--name", args.name] if args.name else []), *args.overrides]
    header = {"command": " ".join(command), **settings}
    build(path, header, train, architectures(), [seed + k for k in range(args.repeats)], args.limit, args.shard)
    print(listing(path, args.repeats))


if __name__ == "__main__":
    main()
