"""Does a trial's score rank architectures the way a full training does?

A fixed set of yolov8n architectures on the default data (``DETECT_ARCHS``: the baseline, cheap channel gates, spatial,
self-attention and second-order blocks in the backbone and the neck, two-block combinations; ``--task classify``:
resnet18 on the classification digits, ``CLASSIFY_ARCHS``) is scored twice:

- **reference**: each architecture trained the way a user trains the winner of a search, from scratch for the
  baseline's full schedule (``Task.reference``), blocks as the exported YAML builds them (no residual gate), seeds;
- **trial**: the search's own trial protocol, as shipped (``conf/trainer``; the baseline's ``search.baseline_epochs``
  and ``search.baseline_train``) or with Hydra overrides: fine-tuned from the cached baseline with the blocks
  straight on the data path or, with ``search.gate=true``, in an identity-initialised residual gate; several seeds
  (with ``search.baselines=B``, seed s from the baseline's draw s mod B, as repeat s of a search).

Seed s of either fixes block initialisation (``torch.manual_seed``), data order and augmentation (``trainer.seed``).
Every finished run is appended to a CSV at once (``benchmarks/results/``), so an interrupted run resumes where it
stopped; the reference CSV is committed, with the command, date and settings in its header.

The report: per architecture, GFLOPs and the mean ± std over seeds of both; the reference's split-half Kendall τ (how
far it agrees with itself); Kendall τ, Spearman ρ and partial τ with GFLOPs controlled of the trial means against the
reference means; top-3 overlap; the largest trial σ; the lowest epoch of the baseline architecture's trials against
the starting baseline's own mAP; the protocol's cost in training images as a fraction of the reference's; per
architecture, the paired Δ to the baseline at the same seed (mean ± std), in the reference and in each protocol.

Usage (from the repository root; one training at a time)::

    python -m benchmarks.fidelity reference            # train what the reference CSV lacks (hours on 2 CPU cores)
    python -m benchmarks.fidelity trial [overrides]    # the shipped protocol, or e.g. trainer.lr0=0.0005 --name lr5e-4
    python -m benchmarks.fidelity report [--name default ft ...]   # protocols side by side
    python -m benchmarks.fidelity reference --reference ms data=digits_multiscale   # a reference on other data
    python -m benchmarks.fidelity report --reference ms --name ms                  # and protocols against it
    python -m benchmarks.fidelity draws --name lr1e-4 lr1e-4-rerun   # one protocol from several baseline draws
    python -m benchmarks.fidelity dips --name default dip-lr5e-5      # the baseline's trials, epoch by epoch
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf
from scipy import stats

from runners import TrainConfig, fit_classification, fit_detection
from search.baseline import baseline_metrics, baseline_settings, baseline_weights
from search.cost import profile
from search.data import resolve_data
from search.evaluate import mark_blocks
from search.placement import Placed, apply
from search.stats import (
    PRIORS,
    ceiling_kendall,
    holm,
    kendall,
    kendall_interval,
    paired,
    partial_kendall,
    pooled_sd,
    reliability,
    sd_interval,
    spearman,
    split_half_kendall,
    top_k_overlap,
)

RESULTS = Path(__file__).parent / "results"
SEEDS = (0, 1, 2)

# name -> {site: block}: yolov8n backbone sites 0-9, neck sites 12-21 (python -m search.inspect placement=all)
DETECT_ARCHS: dict[str, dict[int | str, str]] = {
    "baseline": {},
    "se@6": {6: "se"},  # channel gate, backbone
    "eca@15": {15: "eca"},  # channel gate, neck
    "cbam@21": {21: "cbam"},  # channel + spatial, neck
    "coord@4": {4: "coord"},  # coordinate (spatial) attention, backbone
    "sge@18": {18: "sge"},  # spatial group-wise, neck
    "gam@4": {4: "gam"},  # heavy channel + spatial, backbone
    "psa@19": {19: "psa"},  # polarized self-attention, neck
    "double@8": {8: "double"},  # double attention, backbone
    "soca@15": {15: "soca"},  # second-order channel attention, neck
    "se@15+cbam@21": {15: "se", 21: "cbam"},
    "psa@19+soca@12": {19: "psa", 12: "soca"},
}

# resnet18 on 32-pixel digits: stage outputs layer1-3 (8, 4, 2 pixels; layer4 is 1x1) and SE-ResNet block positions.
# The lighter form #9 asks of classification: one block of each kind, since a reference run costs 8 min on one core
CLASSIFY_ARCHS: dict[str, dict[int | str, str]] = {
    "baseline": {},
    "se@layer3.1": {"layer3.1": "se"},  # channel gate inside a residual block
    "eca@layer2.1": {"layer2.1": "eca"},  # channel gate inside a residual block
    "coord@layer2": {"layer2": "coord"},  # coordinate (spatial) attention
    "psa@layer2": {"layer2": "psa"},  # polarized self-attention
    "soca@layer3": {"layer3": "soca"},  # second-order channel attention
}


@dataclass(frozen=True)
class Task:
    """What one fidelity benchmark scores: a model, its architectures, the search config and the reference schedule.

    ``reference`` holds the overrides of the task's shipped trainer config for the reference: from scratch, long
    enough for the baseline to stop improving, at the from-scratch learning rate (the trials' fine-tuning one is far
    lower) with ultralytics' default warm-up (and closing mosaic) epochs. The reference CSV records every resulting
    setting, so a later change of the shipped defaults is refused, not mixed in.
    """

    model: str
    nc: int
    archs: dict[str, dict[int | str, str]]
    overrides: tuple[str, ...]
    fit: Callable[..., Any]
    metrics: tuple[str, str]  # the metric compared, and a second one recorded
    reference: dict[str, Any]


TASKS = {
    "detect": Task(
        "yolov8n.yaml", 10, DETECT_ARCHS, (), fit_detection, ("map50_95", "map50"),
        {"epochs": 30, "lr0": 0.002, "warmup_epochs": 3.0, "close_mosaic": 10},
    ),
    "classify": Task(
        "resnet18", 10, CLASSIFY_ARCHS, ("model=resnet18", "data=digits_cls", "trainer=classify", "placement=stages"),
        fit_classification, ("top1", "top5"), {"epochs": 30, "lr0": 0.002, "warmup_epochs": 3.0},
    ),
}  # fmt: skip

FIELDS = ["arch", "seed", "metric", "metric2", "curve", "epochs", "images", "train_s", "gflops", "params"]


def compose_config(overrides: Iterable[str] = ()) -> Any:
    """The search's composed config (``conf/config.yaml``) with Hydra overrides."""
    with initialize_config_module("search.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


NUMBERS = ("metric", "metric2", "train_s", "gflops")


def data_setting(cfg: Any) -> str:
    """The data config a results CSV records (JSON, sorted keys), but its cache ``root``, which is per machine."""
    return json.dumps({k: v for k, v in OmegaConf.to_container(cfg.data).items() if k != "root"}, sort_keys=True)


def read_rows(path: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """(header settings, rows) of a results CSV; ``#`` lines hold ``key: value`` settings."""
    if not path.is_file():
        return {}, []
    lines = path.read_text().splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# ") and ": " in line)
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    for row in rows:  # the typed columns a CSV has (a prescreen CSV has few of them)
        for key, kind in (("seed", int), ("epochs", int), ("images", int), *((k, float) for k in NUMBERS)):
            if key in row:
                row[key] = kind(row[key])
        if "curve" in row:
            row["curve"] = [float(v) for v in row["curve"].split()]
    return header, rows


def baseline_draws(header: Mapping[str, str]) -> int:
    """How many baselines a trial CSV's seeds started from (``search.baselines``; seed s from draw s mod it): one
    metric per draw in its header, 1 when it has none (the exhaustive table's)."""
    return len(header.get("baseline_metric", "").split()) or 1


def open_results(path: Path, header: Mapping[str, str], fields: Sequence[str] = FIELDS) -> set[tuple[str, int]]:
    """Create ``path`` with ``header`` and columns ``fields``, or check that its settings, data and starting baseline
    (its metric: a baseline re-trained on another machine differs) equal ``header``'s; the (arch, seed) pairs already
    done."""
    old, rows = read_rows(path)
    if old:
        differ = [k for k in ("settings", "data", "baseline_metric") if not same_setting(old.get(k), header.get(k))]
        if differ:
            sys.exit(f"error: {path} was made with other {', '.join(differ)}; move it away or use another --name")
        return {(r["arch"], r.get("seed")) for r in rows}  # a prescreen CSV has no seed
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        f.writelines(f"# {k}: {v}\n" for k, v in header.items())
        csv.writer(f).writerow(fields)
    return set()


def same_setting(old: str | None, new: str | None) -> bool:
    """Whether a header value recorded earlier still holds: equal, or JSON settings equal but for training settings
    added to ``TrainConfig`` since, at their defaults (what the earlier runs did without naming it)."""
    if old == new or old is None or new is None:
        return old == new
    try:
        return _same(json.loads(old), json.loads(new))
    except json.JSONDecodeError:
        return False


def _same(old: Any, new: Any) -> bool:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return old == new
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    added = new.keys() - old.keys()
    return (
        old.keys() <= new.keys()
        and all(_same(old[k], new[k]) for k in old)
        and all(k in defaults and new[k] == defaults[k] for k in added)
    )


def build(
    task: Task, blocks: dict[int | str, str], seed: int, weights: Path | None, block_lr_mult: float, gate: bool
) -> Placed:
    """The architecture as ``train_one`` trains it at ``seed``, not trained yet."""
    torch.manual_seed(seed)  # block (and, from scratch, network) initialisation
    placed = apply(task.model, blocks, weights=weights, identity_init=weights is not None and gate, nc=task.nc)
    mark_blocks(placed.model, block_lr_mult)
    return placed


def train_one(
    task: Task,
    blocks: dict[int | str, str],
    seed: int,
    data: Path,
    cfg: TrainConfig,
    weights: Path | None,
    block_lr_mult: float = 1.0,
    gate: bool = True,
) -> dict[str, Any]:
    """Train one architecture at one seed: from scratch (``weights`` None) or from baseline weights, the blocks gated
    (``search.gate``) or not, at ``block_lr_mult`` times the learning rate (``search.block_lr_mult``).

    ``images`` counts training images processed, the cost measure that does not depend on the machine's load;
    ``latency_ms`` is the cost model's single-thread forward time, wall time under that load (not in ``FIELDS``).
    """
    placed = build(task, blocks, seed, weights, block_lr_mult, gate)
    cost = profile(placed.model, cfg.imgsz, key=placed.key)
    result = task.fit(placed.model, data, replace(cfg, seed=seed))
    first, second = task.metrics
    return {
        "seed": seed,
        "metric": round(result.metrics[first], 5),
        "metric2": round(result.metrics[second], 5),
        "curve": " ".join(f"{h[first]:.5f}" for h in result.history),
        "epochs": result.epochs,
        "images": result.images,
        "train_s": round(result.train_time_s, 1),
        "gflops": float(f"{cost['gflops']:.6g}"),
        "params": int(cost["params"]),
        "latency_ms": round(cost["latency_ms"], 3),
    }


def run(
    path: Path,
    header: dict[str, str],
    task: Task,
    seeds: Iterable[int],
    train: Callable[[dict[int | str, str], int], dict[str, Any]],
    archs: Sequence[str] = (),
    jobs: int = 1,
) -> None:
    """Train every (architecture, seed) the CSV at ``path`` lacks (of ``archs``, or all), appending each as it
    finishes.

    With ``jobs`` above 1, that many train at once in spawned processes (a GPU machine's cores and memory: never on
    a 2-core CPU, where two trainings slow each other down many times); ``train`` must then pickle (a module-level
    function, a partial of one, a dataclass's method). A failed run does not lose the others: they are written, and
    the failures are raised together at the end.
    """
    done = open_results(path, header)
    names = [n for n in task.archs if not archs or n in archs]
    todo = [(name, s) for s in seeds for name in names if (name, s) not in done]

    def write(i: int, name: str, row: dict[str, Any]) -> None:
        with path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS, extrasaction="ignore").writerow({"arch": name, **row})
        print(f"[{i}/{len(todo)}] {name} seed {row['seed']}: {task.metrics[0]} {row['metric']:.4f} "
              f"({row['train_s']:.0f} s training)", flush=True)  # fmt: skip

    if jobs <= 1:
        for i, (name, seed) in enumerate(todo, 1):
            write(i, name, train(task.archs[name], seed))
        return
    failed = []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(train, task.archs[name], seed): (name, seed) for name, seed in todo}
        try:
            for i, future in enumerate(as_completed(futures), 1):
                name, seed = futures[future]
                try:
                    write(i, name, future.result())
                except Exception as error:  # the other runs go on; every failure is raised below
                    failed.append(f"{name} seed {seed}: {error!r}")
        except BaseException:
            pool.shutdown(cancel_futures=True)  # Ctrl-C: what has not started does not start
            raise
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(todo)} runs failed: " + "; ".join(failed))


def csv_path(kind: str, task: str, name: str = "") -> Path:
    """``results/fidelity_<kind>[_<task>][_<name>].csv``; detection, the default task, has no task part."""
    parts = ["fidelity", kind, *([task] if task != "detect" else []), *([name] if name else [])]
    return RESULTS / f"{'_'.join(parts)}.csv"


def reference_setup(task: Task, overrides: Iterable[str] = ()) -> tuple[Any, Path, TrainConfig]:
    """The composed config, data and training settings of ``task``'s reference (the shipped trainer with the task's
    ``reference`` schedule), with Hydra ``overrides``; a ``trainer.<key>=`` override wins over the schedule's key."""
    overrides = list(overrides)
    cfg = compose_config([*task.overrides, *overrides])
    keys = (o.lstrip("+~").split("=", 1)[0] for o in overrides)
    given = {key.removeprefix("trainer.") for key in keys if key.startswith("trainer.")}
    schedule = {key: value for key, value in task.reference.items() if key not in given}
    return cfg, resolve_data(cfg.data, cfg.model.task), replace(instantiate(cfg.trainer), **schedule)


def reference(args: argparse.Namespace) -> None:
    """Train the reference runs the CSV lacks."""
    task = TASKS[args.task]
    cfg, data, settings = reference_setup(task, args.overrides)
    command = ["python -m benchmarks.fidelity reference", f"--task {args.task}", *args.overrides]
    header = {
        "command": " ".join([*command, *([f"--reference {args.reference}"] if args.reference else [])]),
        "date": date.today().isoformat(),
        "settings": json.dumps(asdict(settings), sort_keys=True),
        "data": data_setting(cfg),
    }
    train = partial(train_one, task, data=data, cfg=settings, weights=None)
    run(csv_path("reference", args.task, args.reference), header, task, args.seeds, train, args.archs, args.jobs)


@dataclass(frozen=True)
class Protocol:
    """A trial protocol, set up: its training settings, data, the cached baselines it starts from (one per
    ``search.baselines`` draw), the blocks' learning-rate multiplier, and the ``header`` (date, settings, data, the
    starting baselines' metrics) of its CSVs."""

    task: Task
    settings: TrainConfig
    data: Path
    weights: tuple[Path, ...]
    block_lr_mult: float
    gate: bool
    header: dict[str, str]

    def train(self, blocks: dict[int | str, str], seed: int) -> dict[str, Any]:
        """One architecture at one seed, as a search's trial trains its repeat ``seed``: from draw seed mod B, to
        the last epoch."""
        weights = self.weights[seed % len(self.weights)]
        return train_one(self.task, blocks, seed, self.data, self.settings, weights, self.block_lr_mult, self.gate)


def protocol(task: Task, overrides: Iterable[str] = ()) -> Protocol:
    """The search's trial protocol for ``task`` (shipped, or with Hydra ``overrides``); trains and caches the
    baselines it starts from (``search.baselines``) as the search would, if they are not cached yet."""
    cfg = compose_config([*task.overrides, *overrides])
    data = resolve_data(cfg.data, cfg.model.task)
    settings = instantiate(cfg.trainer)
    fit = lambda model, cfg: task.fit(model, data, cfg)  # noqa: E731
    schedule = baseline_settings(settings, int(cfg.search.baseline_epochs), cfg.search.baseline_train)
    weights = tuple(
        baseline_weights(task.model, task.nc, data, None, fit, schedule, draw=k) for k in range(cfg.search.baselines)
    )
    mult, gate = float(cfg.search.block_lr_mult), bool(cfg.search.gate)
    recorded = {"trainer": asdict(settings), "baseline": asdict(schedule), "block_lr_mult": mult, "gate": gate}
    header = {
        "date": date.today().isoformat(),
        "settings": json.dumps(recorded),
        "data": data_setting(cfg),
        "baseline_metric": " ".join(f"{baseline_metrics(w).get(task.metrics[0], float('nan')):.5f}" for w in weights),
    }
    return Protocol(task, settings, data, weights, mult, gate, header)


def trial(args: argparse.Namespace) -> None:
    """Score every architecture with the trial protocol (shipped, or with the given overrides)."""
    task = TASKS[args.task]
    setup = protocol(task, args.overrides)
    command = ["python -m benchmarks.fidelity trial", f"--task {args.task}", *args.overrides, f"--name {args.name}"]
    command += [f"--archs {' '.join(args.archs)}"] if args.archs else []
    header = {"command": " ".join(command), **setup.header}
    run(csv_path("trial", args.task, args.name), header, task, args.seeds, setup.train, args.archs, args.jobs)


def summarise(rows: list[dict[str, Any]], repeats: int = 1) -> dict[str, dict[str, Any]]:
    """Per architecture: mean, std and count over seeds, GFLOPs, images per score and every training's curve.

    With ``repeats`` R, a score is what a search's trial with ``search.repeats=R`` reports: the mean of the trainings
    at seeds kR … kR+R−1 (its repeats, at ``trainer.seed`` kR), so "seed" k names a group; incomplete groups are left
    out, and ``images`` counts a group's trainings together.
    """
    by: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for row in rows:
        by.setdefault(row["arch"], {}).setdefault(row["seed"] // repeats, []).append(row)
    out = {}
    for name, groups in by.items():
        runs = {k: g for k, g in sorted(groups.items()) if len(g) == repeats}
        if not runs:
            continue
        values = [statistics.fmean(r["metric"] for r in g) for g in runs.values()]
        out[name] = {
            "seeds": list(runs),
            "values": values,
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else float("nan"),
            "gflops": next(iter(runs.values()))[0]["gflops"],
            "images": statistics.fmean(sum(r["images"] for r in g) for g in runs.values()),
            "curves": {r["seed"]: r["curve"] for g in runs.values() for r in g},
        }
    return out


def paired_deltas(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per architecture: its differences to the baseline at the seeds both have (common random numbers), their mean
    and std over seeds, and the paired t-test's p of a zero mean (NaN below two seeds); {} without a baseline."""
    if "baseline" not in summary:
        return {}
    base = dict(zip(summary["baseline"]["seeds"], summary["baseline"]["values"], strict=True))
    out = {}
    for name, s in summary.items():
        pairs = [(v, base[seed]) for seed, v in zip(s["seeds"], s["values"], strict=True) if seed in base]
        if pairs:
            out[name] = {**_spread([v - b for v, b in pairs]), "p": paired(*zip(*pairs, strict=True)).p_value}
    return out


def report(args: argparse.Namespace) -> str:
    """The fidelity table of the protocols ``args.name`` (one column each) against the reference."""
    task = TASKS[args.task]
    _, ref_rows = read_rows(csv_path("reference", args.task, args.reference))
    ref = summarise(ref_rows)
    protocols = {}
    for name in args.name:
        header, rows = read_rows(csv_path("trial", args.task, name))
        protocols[name] = (header, summarise(rows, args.repeats))
    metric = task.metrics[0]
    lines = [f"protocol {n!r}: {h.get('command', 'not run yet')}" for n, (h, _) in protocols.items()]
    if args.repeats > 1:
        lines.append(
            f"a trial score is the mean of {args.repeats} trainings (seeds k·{args.repeats} … "
            f"k·{args.repeats}+{args.repeats - 1}), as a search with search.repeats={args.repeats} reports it"
        )
    lines += [
        "",
        f"| architecture | GFLOPs | reference {metric} | " + " | ".join(f"{n} {metric}" for n in protocols) + " |",
        "|---|---:|---:|" + "---:|" * len(protocols),
    ]
    for n in task.archs:
        r = ref.get(n)
        trials = [tri.get(n) for _, tri in protocols.values()]
        gflops = next((s["gflops"] for s in (r, *trials) if s), float("nan"))
        lines.append(f"| {n} | {gflops:.4f} | {_cell(r)} | " + " | ".join(_cell(t) for t in trials) + " |")
    groups = [ref[n]["values"] for n in task.archs if n in ref]
    if groups:
        line = "reference: {} runs of {} architecture{}; seed σ {:.4f} [{:.4f}, {:.4f}] (pooled; χ², 95%)".format(
            sum(map(len, groups)), len(groups), "s" * (len(groups) > 1), *pooled_sd(groups)
        )
        if len(groups) >= 2:
            _, between_sd, icc = reliability(groups)
            seeds = min(map(len, groups))
            halves = split_half_kendall([g[:seeds] for g in groups])
            ceilings = ["{:.3f} [{:.3f}, {:.3f}] ({} prior)".format(*ceiling_kendall(groups, p), p) for p in PRIORS]
            line += (
                f", σ between architectures {between_sd:.4f}, reliability of their means {icc:.2f} (intraclass "
                f"correlation); split-half Kendall τ ({seeds} seeds) {halves:.3f}; "
                f"a trial that knew every architecture's true mean would reach τ {' or '.join(ceilings)} against it "
                "(search.stats.ceiling_kendall: 95% of 2000 simulated references)"
            )
        lines += ["", line]
    measures = {name: _measures(task, ref, header, tri) for name, (header, tri) in protocols.items()}
    if any(measures.values()):
        keys = next(m for m in measures.values() if m)
        lines += ["", "| measure | " + " | ".join(protocols) + " |", "|---|" + "---:|" * len(protocols)]
        lines += [f"| {k} | " + " | ".join(m.get(k, "—") for m in measures.values()) + " |" for k in keys]
    ref_d, trial_d = paired_deltas(ref), [paired_deltas(tri) for _, tri in protocols.values()]
    if ref_d:
        blocks = [n for n in task.archs if n != "baseline"]
        p_values = [ref_d[n]["p"] if n in ref_d else math.nan for n in blocks]
        adjusted = dict(zip(blocks, holm(p_values), strict=True))  # an untested one is not in the family
        lines += [
            "",
            "paired Δ to the baseline at the same seed, mean ± std over seeds; the reference's paired t-test of Δ = 0,",
            f"Holm-adjusted over the {len(blocks)} block architectures:",
            "",
            "| architecture | reference Δ | p | Holm p | " + " | ".join(f"{n} Δ" for n in protocols) + " |",
            "|---|---:|---:|---:|" + "---:|" * len(protocols),
        ]
        for n, p in zip(blocks, p_values, strict=True):
            test = "— | —" if math.isnan(p) else f"{p:.3f} | {adjusted[n]:.3f}"
            cells = " | ".join(_cell(d.get(n), "+") for d in trial_d)
            lines.append(f"| {n} | {_cell(ref_d.get(n), '+')} | {test} | {cells} |")
    return "\n".join(lines)


def draws(args: argparse.Namespace) -> str:
    """How far a block's paired Δ depends on the starting baseline: ``args.name`` are one protocol's CSVs, each
    fine-tuned from another training (draw) of the same baseline.

    Per architecture: the paired Δ (mean ± std over seeds) from each draw; the pooled seed σ and the σ between draws
    (one-way random-effects ANOVA, ``search.stats.reliability``); the Alexander–Govern test of equal means over the
    draws (it allows each draw its own variance), Holm-adjusted over the architectures. A σ between draws above the
    seed σ means that repeats, which vary only the fine-tuning seed, understate how far a search's Δ would move with
    another baseline.
    """
    task = TASKS[args.task]
    found = {name: read_rows(csv_path("trial", args.task, name)) for name in args.name}
    deltas = {name: paired_deltas(summarise(rows, args.repeats)) for name, (_, rows) in found.items()}
    starts = ", ".join(f"{name} {header.get('baseline_metric', '?')}" for name, (header, _) in found.items())
    lines = [
        f"starting baselines: {starts}",
        "",
        "| architecture | " + " | ".join(f"{n} Δ" for n in args.name) + " | seed σ | σ between draws | p | Holm p |",
        "|---|" + "---:|" * (len(args.name) + 4),
    ]
    rows = []
    for arch in (a for a in task.archs if a != "baseline"):
        groups = [d[arch]["values"] for d in deltas.values() if arch in d and len(d[arch]["values"]) > 1]
        if len(groups) < 2:
            continue
        seed_sd, between_sd, _ = reliability(groups)
        p = float(stats.alexandergovern(*groups).pvalue) if all(statistics.variance(g) for g in groups) else math.nan
        rows.append((arch, seed_sd, between_sd, p))
    adjusted = holm([p for *_, p in rows])  # a draw without spread has no test and is not in the family
    for (arch, seed_sd, between_sd, p), q in zip(rows, adjusted, strict=True):
        cells = [_cell(d.get(arch), "+") for d in deltas.values()]
        test = "— | —" if math.isnan(p) else f"{p:.4f} | {q:.4f}"  # a draw without spread: no test
        lines.append(f"| {arch} | " + " | ".join(cells) + f" | {seed_sd:.4f} | {between_sd:.4f} | {test} |")
    return "\n".join(lines)


def dips(args: argparse.Namespace) -> str:
    """How the baseline architecture's trials of each protocol ``args.name`` move from the baseline they started from
    (seed s from draw s mod B): per epoch, the mean ± std over seeds of the difference, and the lowest of all."""
    found = []
    for name in args.name:
        header, rows = read_rows(csv_path("trial", args.task, name))
        curves = {r["seed"]: r["curve"] for r in rows if r["arch"] == "baseline"}
        if not curves or "baseline_metric" not in header:
            found.append((name, "no baseline trials", [], math.nan))
            continue
        moved = list(_moved(curves, [float(v) for v in header["baseline_metric"].split()]).values())
        by_epoch = [_spread([c[e] for c in moved]) for e in range(min(map(len, moved)))]
        found.append((name, header["baseline_metric"], by_epoch, min(map(min, moved))))
    epochs = max(len(by_epoch) for _, _, by_epoch, _ in found)
    lines = [
        "| protocol | starting baseline | " + " | ".join(f"epoch {e + 1}" for e in range(epochs)) + " | lowest |",
        "|---|---:|" + "---:|" * (epochs + 1),
    ]
    for name, start, by_epoch, low in found:
        cells = [_cell(s, "+") for s in by_epoch] + ["—"] * (epochs - len(by_epoch))
        lowest = "—" if math.isnan(low) else f"{low:+.4f}"
        lines.append(f"| {name} | {start} | " + " | ".join(cells) + f" | {lowest} |")
    return "\n".join(lines)


def _spread(values: list[float]) -> dict[str, Any]:
    """Values as a ``_cell`` summary: mean, std over them (NaN for one) and the values."""
    std = statistics.stdev(values) if len(values) > 1 else float("nan")
    return {"values": values, "mean": statistics.fmean(values), "std": std}


def _cell(s: dict[str, Any] | None, sign: str = "") -> str:
    """A summary's mean ± std over its seeds (``sign`` "+" for a Δ); "—" when there is none."""
    if not s:
        return "—"
    if len(s["values"]) == 1:
        return f"{s['mean']:{sign}.4f} (n=1)"
    return f"{s['mean']:{sign}.4f} ± {s['std']:.4f} (n={len(s['values'])})"


def _measures(
    task: Task, ref: dict[str, dict[str, Any]], header: dict[str, str], tri: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """One protocol's rank and noise measures against the reference ({} below 3 common architectures)."""
    names = [n for n in task.archs if n in ref and n in tri]
    if len(names) < 3:
        return {}
    x, y, z = ([tri[n]["mean"] for n in names], [ref[n]["mean"] for n in names], [ref[n]["gflops"] for n in names])
    cost = statistics.fmean(tri[n]["images"] for n in names) / statistics.fmean(ref[n]["images"] for n in names)
    out = {
        "architectures in both": str(len(names)),
        "Kendall τ, trial vs reference": f"{kendall(x, y):.3f}",
        "its 95% bootstrap interval over architectures": "[{:.3f}, {:.3f}]".format(*kendall_interval(x, y)),
        "Spearman ρ, trial vs reference": f"{spearman(x, y):.3f}",
        "partial τ, GFLOPs controlled": f"{partial_kendall(x, y, z):.3f}",
        "Kendall τ, GFLOPs alone vs reference": f"{kendall([-v for v in z], y):.3f}",
        "top-3 overlap": f"{top_k_overlap(x, y, 3)}/3",
        "largest trial σ over seeds": f"{max(tri[n]['std'] for n in names):.4f}",
        "its architecture and 95% interval (χ²)": _noisiest(tri, names),
        "trial cost / reference cost (training images)": f"{cost:.3f}",
    }
    if "baseline" in tri and "baseline_metric" in header:
        out["baseline trials: lowest epoch − starting baseline"] = _dip(tri["baseline"]["curves"], header)
    return out


def _dip(curves: dict[int, list[float]], header: dict[str, str]) -> str:
    """How far the baseline architecture's trials fall below the baseline they started from: the lowest epoch's
    difference, per draw when there are several."""
    starts = [float(v) for v in header["baseline_metric"].split()]
    moved = _moved(curves, starts)
    dips = [
        (min(min(c) for s, c in moved.items() if s % len(starts) == k), start)
        for k, start in enumerate(starts)
        if any(s % len(starts) == k for s in moved)
    ]
    return "; ".join(f"{dip:+.4f} (of {start:.4f})" for dip, start in dips)


def _moved(curves: dict[int, list[float]], starts: Sequence[float]) -> dict[int, list[float]]:
    """Each seed's curve less the metric of the baseline it started from: draw s mod B, as a search's repeat s."""
    return {s: [v - starts[s % len(starts)] for v in c] for s, c in curves.items()}


def _noisiest(tri: dict[str, dict[str, Any]], names: Sequence[str]) -> str:
    """The architecture of the largest seed σ, with the σ's confidence interval: three seeds pin σ down loosely."""
    name = max(names, key=lambda n: tri[n]["std"])
    low, high = sd_interval(tri[name]["values"])
    return f"{name} [{low:.4f}, {high:.4f}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("reference", "trial", "report", "draws", "dips"):
        p = sub.add_parser(name)
        p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
        p.add_argument("--task", choices=sorted(TASKS), default="detect")
        if name in ("report", "draws", "dips"):
            p.add_argument("--name", nargs="+", default=["default"], help="protocols to compare, one column each")
        if name in ("report", "draws"):  # dips follows single trainings epoch by epoch
            p.add_argument("--repeats", type=int, default=1,
                           help="score a trial as the mean of this many trainings, as search.repeats")  # fmt: skip
        elif name == "trial":
            p.add_argument("--name", default="default", help="protocol name: results/fidelity_trial_<name>.csv")
        if name in ("reference", "report"):  # the committed reference has no name; another (other data) is named
            p.add_argument("--reference", default="",
                           help="reference name: results/fidelity_reference_<name>.csv")  # fmt: skip
        if name in ("reference", "trial"):
            p.add_argument("--archs", nargs="+", choices=sorted({*DETECT_ARCHS, *CLASSIFY_ARCHS}), default=[],
                           help="train only these architectures (default: all of the task's)")  # fmt: skip
            p.add_argument("--jobs", type=int, default=1,
                           help="trainings at once, in processes (a GPU machine; one on a small CPU)")  # fmt: skip
            p.add_argument("overrides", nargs="*", help="Hydra overrides of the search config, e.g. trainer.lr0=5e-4")
    args = parser.parse_args(argv)
    for option in ("repeats", "jobs"):
        if getattr(args, option, 1) < 1:
            parser.error(f"--{option}: {getattr(args, option)}; valid: 1 or more")
    if other := set(getattr(args, "archs", ())) - set(TASKS[args.task].archs):
        parser.error(f"--archs: {', '.join(sorted(other))} not of --task {args.task}")
    if args.command in ("report", "draws", "dips"):
        print({"report": report, "draws": draws, "dips": dips}[args.command](args))
    else:
        {"reference": reference, "trial": trial}[args.command](args)


if __name__ == "__main__":
    main()
