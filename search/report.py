"""What a search leaves in its run directory: trials.csv, pareto.csv/.png/.html, hypervolume.html, best/, a summary.

Everything is rebuilt from the study alone, so the same command reports a shared study while workers still run.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from search.heartbeat import LOST
from search.space import from_json
from search.workers import QUOTA, REASON

if TYPE_CHECKING:
    import plotly.graph_objects as go

COLUMNS = (
    "trial", "state", "architecture", "metric", "map50", "gflops", "params", "latency_ms", "latency_ratio",
    "duration_s", "epochs", "reused_from", "reason", "hparams",
)  # fmt: skip


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: its blocks per site, hyperparameters, metric, cost, state and duration."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if a.get(QUOTA):  # started past the quota by a racing worker and pruned at once: not a trial of the search
            continue
        arch = from_json(a["arch"]) if "arch" in a else {}
        row: dict[str, Any] = {
            "trial": t.number,
            "state": t.state.name,
            "architecture": a.get("describe", ""),
            "metric": a.get("metric"),
            "map50": a.get("map50"),
            "gflops": a.get("gflops"),
            "params": a.get("params"),
            "latency_ms": a.get("latency_ms"),
            "latency_ratio": a.get("latency_ratio"),
            "duration_s": round(t.duration.total_seconds(), 1) if t.duration else None,
            "epochs": len(a.get("curve", [])) or None,
            "reused_from": a.get("reused_from"),
            "reason": a.get(REASON) or a.get(LOST, ""),
            "hparams": json.dumps({s: h for s, (_, h) in arch.items() if h}, sort_keys=True) if arch else "",
        }
        row.update({f"site_{s}": k for s, (k, _) in arch.items()})
        rows.append(row)
    return rows


def pareto_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The completed trials on the front (mAP up, cost down), cheapest first: one per architecture.

    A trial that reused an earlier result (``reused_from``) holds the same point as its source, which Optuna's front
    keeps too; each architecture key (``arch_key``) is represented by the first trial that evaluated it.
    """
    try:
        front = study.best_trials
    except ValueError:  # no completed trial yet
        return []
    first: dict[Any, optuna.trial.FrozenTrial] = {}
    for t in sorted(front, key=lambda t: ("reused_from" in t.user_attrs, t.number)):
        first.setdefault(t.user_attrs.get("arch_key", t.number), t)
    return sorted(first.values(), key=lambda t: (t.values[1], -t.values[0]))


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` with the fixed columns first, then one column per site."""
    sites = sorted({k for r in rows for k in r if k.startswith("site_")}, key=_site_order)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*COLUMNS, *sites], restval="")
        writer.writeheader()
        writer.writerows(rows)


def _site_order(column: str) -> tuple[int, str]:
    site = column.removeprefix("site_")
    return (int(site), "") if site.isdigit() else (0, site)


def copy_best(front: list[optuna.trial.FrozenTrial], best_dir: Path) -> list[Path]:
    """Copy each front architecture's YAML (YOLO) and weights into ``best_dir``; returns the files written."""
    best_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for t in front:
        for attr in ("yaml", "weights"):
            src = t.user_attrs.get(attr)
            if src and Path(src).is_file():
                dst = best_dir / f"trial_{t.number:03d}{Path(src).suffix}"
                shutil.copyfile(src, dst)
                written.append(dst)
    return written


def plot_png(rows: list[dict[str, Any]], front: set[int], cost: str, metric: str, path: Path) -> None:
    """Scatter of every completed trial, the front as a staircase, the baseline as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["state"] == "COMPLETE" and r["metric"] is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.scatter([r[cost] for r in done], [r["metric"] for r in done], c="#9aa5b1", s=28, label="trials")
    best = sorted((r for r in done if r["trial"] in front), key=lambda r: r[cost])
    if best:
        ax.step([r[cost] for r in best], [r["metric"] for r in best], where="post", c="#d1495b", lw=1.2)
        ax.scatter([r[cost] for r in best], [r["metric"] for r in best], c="#d1495b", s=40, label="Pareto front")
        for r in best:
            ax.annotate(
                r["architecture"], (r[cost], r["metric"]), fontsize=6, xytext=(4, 3), textcoords="offset points"
            )
    base = _baseline(rows)
    if base:
        ax.scatter([base[cost]], [base["metric"]], marker="*", s=160, c="#edae49", ec="k", label="baseline")
    ax.set_xlabel(cost)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pareto_figure(study: optuna.Study, rows: list[dict[str, Any]], cost: str, metric: str) -> go.Figure:
    """Optuna's Pareto-front plot, cost across and metric up as in pareto.png; hover names each point's architecture.

    The axes are the study's metric names; a star marks the baseline.
    """
    from optuna.visualization import plot_pareto_front

    names = _names(study, cost, metric)
    fig = plot_pareto_front(study, targets=lambda t: (t.values[1], t.values[0]), target_names=[names[1], names[0]])
    values = f"<br>{names[0]} %{{y:.4f}}<br>{names[1]} %{{x:.4g}}<extra></extra>"
    architecture = {r["trial"]: r["architecture"] for r in rows}
    for trace in fig.data:  # Optuna's hover text is the trial as indented JSON: keep its number, name the blocks
        numbers = [json.loads(text.replace("<br>", ""))["number"] for text in trace.text or ()]
        trace.text = [f"trial {n}: {architecture.get(n, '')}" for n in numbers]
        trace.hovertemplate = "%{text}" + values
    base = _baseline(rows)
    if base:
        fig.add_scatter(
            x=[base[cost]], y=[base["metric"]], mode="markers+text", text=["baseline"], textposition="top center",
            marker={"symbol": "star", "size": 16, "color": "#edae49", "line": {"width": 1, "color": "black"}},
            hovertemplate=f"trial {base['trial']}: baseline" + values, showlegend=False,
        )  # fmt: skip
    return fig.update_layout(title=f"Pareto front: {names[0]} versus {names[1]}")


def hypervolume_figure(study: optuna.Study, cost: str, metric: str) -> go.Figure:
    """Optuna's hypervolume history: the area the front dominates, up to metric 0 and 10% above the costliest trial."""
    from optuna.visualization import plot_hypervolume_history

    costs = [t.values[1] for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    reference = [0.0, 1.1 * max(costs, default=0.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fig = plot_hypervolume_history(study, reference)
    names = _names(study, cost, metric)
    return fig.update_layout(title=f"Hypervolume (reference: {names[0]} 0, {names[1]} {reference[1]:.4g})")


def _names(study: optuna.Study, cost: str, metric: str) -> list[str]:
    """The study's metric names for the axes, or ``metric`` and ``cost`` where it has none."""
    return study.metric_names or [metric, cost]


def write_html(fig: go.Figure, path: Path) -> None:
    """One self-contained interactive page: plotly.js is embedded, so it opens without a network."""
    fig.write_html(path, include_plotlyjs=True)


def _baseline(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first completed trial without blocks (trial 0 of a search), if any."""
    return next((r for r in rows if r["architecture"] == "baseline" and r["state"] == "COMPLETE"), None)


def summary_table(rows: list[dict[str, Any]], front: set[int], cost: str, metric: str) -> str:
    """A text table of the front with the change against the baseline."""
    base = _baseline(rows)
    lines = [f"{'trial':>5}  {metric:>9}  {'Δ':>7}  {cost:>9}  architecture"]
    for r in sorted((r for r in rows if r["trial"] in front), key=lambda r: r[cost]):
        delta = f"{r['metric'] - base['metric']:+.4f}" if base else "—"
        lines.append(f"{r['trial']:>5}  {r['metric']:>9.4f}  {delta:>7}  {r[cost]:>9.4g}  {r['architecture']}")
    return "\n".join(lines)


def write_all(study: optuna.Study, out_dir: Path, cost: str, metric: str) -> tuple[list[Path], str]:
    """Write every output of the study to ``out_dir``; returns the files written and the summary table.

    Each output is written on its own: one that fails (a plot, a file system error) is one warning line on stderr and
    the others are still written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(study)
    front_trials = pareto_trials(study)
    front = {t.number for t in front_trials}
    writers = {
        "trials.csv": lambda path: write_csv(rows, path),
        "pareto.csv": lambda path: write_csv([r for r in rows if r["trial"] in front], path),
        "pareto.png": lambda path: plot_png(rows, front, cost, metric, path),
        "pareto.html": lambda path: write_html(pareto_figure(study, rows, cost, metric), path),
        "hypervolume.html": lambda path: write_html(hypervolume_figure(study, cost, metric), path),
    }
    files = [out_dir / name for name, write in writers.items() if guarded(name, write, out_dir / name)]
    best: list[Path] = []
    guarded("best/", lambda: best.extend(copy_best(front_trials, out_dir / "best")))
    return files + best, summary_table(rows, front, cost, metric)


def guarded(what: str, write: Callable[..., object], *args: Any) -> bool:
    """Run ``write(*args)``; if it raises, say so in one warning line on stderr: one output never costs the others."""
    try:
        write(*args)
    except Exception as err:
        detail = (str(err).strip().splitlines() or [""])[0]
        print(f"warning: {what} not written: {type(err).__name__}: {detail}", file=sys.stderr)
        return False
    return True
