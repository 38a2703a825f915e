"""What a search leaves in its run directory: trials.csv, pareto.csv/.png/.html, hypervolume.html, heatmap.png, best/,
a summary.

Everything is rebuilt from the study alone, so the same command reports a shared study while workers still run.
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from search.evaluate import DRAWS, REPEATS
from search.heartbeat import LOST
from search.heatmap import plot_heatmap
from search.space import from_json
from search.stats import holm, paired_by_draw
from search.workers import QUOTA, REASON

if TYPE_CHECKING:
    import plotly.graph_objects as go

COLUMNS = (
    "trial", "state", "architecture", "metric", "metric_std", "repeats", "delta", "delta_low", "delta_high", "p_value",
    "p_holm", "significant", "repeat_metrics", "map50", "gflops", "params", "latency_ms", "latency_ratio", "duration_s",
    "epochs", "reused_from", "reason", "hparams",
)  # fmt: skip
ALPHA = 0.05  # significance level of the comparisons with the baseline, family-wise (Holm)


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
            **_spread(a),
            **dict.fromkeys(("delta", "delta_low", "delta_high", "p_value", "p_holm", "significant")),
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
    compare_to_baseline(rows, int(study.user_attrs.get(DRAWS, 1)))
    return rows


def _spread(attrs: dict[str, Any]) -> dict[str, Any]:
    """Repeats, their standard deviation and values (a trial without per-repeat values had one repeat)."""
    values = attrs.get(REPEATS) or ([attrs["metric"]] if attrs.get("metric") is not None else [])
    std = statistics.stdev(values) if len(values) > 1 else None
    return {
        "metric_std": round(std, 5) if std is not None else None,
        "repeats": len(values) or None,
        "repeat_metrics": " ".join(f"{v:.5f}" for v in values),
    }


def compare_to_baseline(rows: list[dict[str, Any]], draws: int = 1) -> None:
    """Fill each completed row's paired difference to the baseline over their common repeats, in place.

    ``delta`` with its 95% t interval (``delta_low``, ``delta_high``) and the paired t-test's ``p_value``
    (``search.stats.paired``: repeat k of both used the same seed and baseline draw); ``p_holm`` adjusts it for the
    number of architectures compared (Holm–Bonferroni; a trial that reused another's result shares its test) and
    ``significant`` is ``p_holm < ALPHA``. Without a baseline, or below two common repeats, the test is left empty.

    With ``draws`` baselines (``search.baselines``) fewer than the common repeats, repeats that started from the same
    draw are not independent: the test then runs on each draw's mean difference, one value per draw
    (``search.stats.paired_by_draw``).
    """
    base = _baseline(rows)
    if base is None:
        return
    reference = _values(base)
    tested = {}
    for r in rows:
        if r["state"] != "COMPLETE" or r is base or r["metric"] is None:
            continue
        values = _values(r)
        n = min(len(values), len(reference))
        result = paired_by_draw(values[:n], reference[:n], draws)
        r["delta"] = round(result.delta, 5) if n else None
        if result.n >= 2:
            r.update(
                delta_low=round(result.low, 5), delta_high=round(result.high, 5), p_value=float(f"{result.p_value:.4g}")
            )
            if r["reused_from"] is None:
                tested[r["trial"]] = result.p_value
    adjusted = dict(zip(tested, holm(list(tested.values())), strict=True))
    for r in rows:
        source = r["trial"] if r.get("reused_from") is None else r["reused_from"]
        if source in adjusted and r.get("p_value") is not None:
            r["p_holm"] = float(f"{adjusted[source]:.4g}")
            r["significant"] = adjusted[source] < ALPHA


def _values(row: dict[str, Any]) -> list[float]:
    return [float(v) for v in row["repeat_metrics"].split()]


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
    """Scatter of every completed trial with its spread over repeats (± std), the front as a staircase, the baseline as
    a star, and a ring around each front point that beats the baseline significantly."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["state"] == "COMPLETE" and r["metric"] is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.scatter([r[cost] for r in done], [r["metric"] for r in done], c="#9aa5b1", s=28, label="trials")
    spread = [r for r in done if r.get("metric_std")]
    if spread:
        ax.errorbar(
            [r[cost] for r in spread], [r["metric"] for r in spread], yerr=[r["metric_std"] for r in spread],
            fmt="none", ecolor="#9aa5b1", elinewidth=0.8, capsize=2, label="± std over repeats",
        )  # fmt: skip
    best = sorted((r for r in done if r["trial"] in front), key=lambda r: r[cost])
    wins = [r for r in best if r.get("significant") and r["delta"] > 0]
    if wins:
        ax.scatter([r[cost] for r in wins], [r["metric"] for r in wins], s=140, facecolors="none", edgecolors="k",
                   label=f"beats the baseline (Holm, α={ALPHA})")  # fmt: skip
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

    The axes are the study's metric names; a star marks the baseline. With repeats, each point has an error bar of
    ±1 standard deviation over its repeats, its hover gives Δ to the baseline with the 95% interval, and a ring marks
    the points that beat the baseline significantly (as ``pareto.png`` and the summary's ``*``).
    """
    from optuna.visualization import plot_pareto_front

    names = _names(study, cost, metric)
    fig = plot_pareto_front(study, targets=lambda t: (t.values[1], t.values[0]), target_names=[names[1], names[0]])
    values = f"<br>{names[0]} %{{y:.4f}}<br>{names[1]} %{{x:.4g}}<extra></extra>"
    by_trial = {r["trial"]: r for r in rows}
    for trace in fig.data:  # Optuna's hover text is the trial as indented JSON: keep its number, name the blocks
        numbers = [json.loads(text.replace("<br>", ""))["number"] for text in trace.text or ()]
        points = [by_trial.get(n, {}) for n in numbers]
        trace.text = [
            f"trial {n}: {r.get('architecture', '')}{_delta_text(r)}" for n, r in zip(numbers, points, strict=True)
        ]
        trace.hovertemplate = "%{text}" + values
        trace.error_y = {"type": "data", "array": [r.get("metric_std") or 0.0 for r in points], "thickness": 1}
        trace.marker.line = {
            "width": [2 if _beats(r) else 0 for r in points], "color": "black"
        }  # fmt: skip
    base = _baseline(rows)
    if base:
        fig.add_scatter(
            x=[base[cost]], y=[base["metric"]], mode="markers+text", text=["baseline"], textposition="top center",
            marker={"symbol": "star", "size": 16, "color": "#edae49", "line": {"width": 1, "color": "black"}},
            hovertemplate=f"trial {base['trial']}: baseline" + values, showlegend=False,
        )  # fmt: skip
    return fig.update_layout(title=f"Pareto front: {names[0]} versus {names[1]}")


def _beats(row: dict[str, Any]) -> bool:
    """The row is significantly better than the baseline."""
    return bool(row.get("significant")) and (row.get("delta") or 0.0) > 0


def _delta_text(row: dict[str, Any]) -> str:
    """Hover text: Δ to the baseline with its interval and corrected p, when tested (a trial that reused the
    baseline's own result has an interval but no corrected p: it is no comparison of the family)."""
    if row.get("delta_low") is None:
        return ""
    mark = " *" if _beats(row) else ""
    p = "" if row.get("p_holm") is None else f", p (Holm) {row['p_holm']:.3g}"
    return f"<br>Δ {row['delta']:+.4f} [{row['delta_low']:+.4f}, {row['delta_high']:+.4f}]{p}{mark}"


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


def summary_table(rows: list[dict[str, Any]], front: set[int], cost: str, metric: str, draws: int = 1) -> str:
    """A text table of the front with the paired change against the baseline, and a sentence on what is significant
    (``draws``: the baselines the repeats started from)."""
    base = _baseline(rows)
    head = f"{'trial':>5}  {metric:>9}  {'± std':>7}  {'Δ':>7}  {'95% CI of Δ':>18}  {'p (Holm)':>8}  {cost:>9}"
    lines = [f"{head}  architecture"]
    for r in sorted((r for r in rows if r["trial"] in front), key=lambda r: r[cost]):
        delta = f"{r['delta']:+.4f}" if r.get("delta") is not None else ("+0.0000" if r is base else "—")
        ci = f"[{r['delta_low']:+.4f}, {r['delta_high']:+.4f}]" if r.get("delta_low") is not None else "—"
        p = f"{r['p_holm']:.3g}" if r.get("p_holm") is not None else "—"
        std = f"{r['metric_std']:.4f}" if r.get("metric_std") is not None else "—"
        mark = " *" if r.get("significant") and r["delta"] > 0 else ""
        lines.append(
            f"{r['trial']:>5}  {r['metric']:>9.4f}  {std:>7}  {delta:>7}  {ci:>18}  {p:>8}  {r[cost]:>9.4g}  "
            f"{r['architecture']}{mark}"
        )
    return "\n".join([*lines, "", verdict(rows, draws)])


def verdict(rows: list[dict[str, Any]], draws: int = 1) -> str:
    """One plain sentence: which architectures beat the baseline significantly, or that none does, and why not; and
    over what the test ran: the repeats of one trained baseline (a claim about that baseline) or of ``draws``."""
    base = _baseline(rows)
    if base is None:
        return "No completed baseline: nothing can be compared with it."
    better = [r for r in rows if r.get("significant") and r["delta"] > 0 and r.get("reused_from") is None]
    source = "one trained baseline" if draws == 1 else f"{draws} trained baselines"
    test = f"paired t-test over common repeats from {source}, Holm-corrected at {ALPHA}"
    if better:
        names = "; ".join(f"trial {r['trial']} ({r['architecture']}, Δ {r['delta']:+.4f})" for r in better)
        return f"Significantly better than the baseline ({test}): {names}."
    if (base["repeats"] or 0) < 2:
        return (
            "No architecture can be said to beat the baseline: with one repeat per architecture there is no test "
            "(set search.repeats to 2 or more)."
        )
    return f"No architecture beats the baseline significantly ({test})."


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
        "heatmap.png": lambda path: plot_heatmap(rows, metric, path),
    }
    files = [out_dir / name for name, write in writers.items() if guarded(name, write, out_dir / name)]
    best: list[Path] = []
    guarded("best/", lambda: best.extend(copy_best(front_trials, out_dir / "best")))
    return files + best, summary_table(rows, front, cost, metric, int(study.user_attrs.get(DRAWS, 1)))


def guarded(what: str, write: Callable[..., object], *args: Any) -> bool:
    """Run ``write(*args)``; if it raises, say so in one warning line on stderr: one output never costs the others."""
    try:
        write(*args)
    except Exception as err:
        detail = (str(err).strip().splitlines() or [""])[0]
        print(f"warning: {what} not written: {type(err).__name__}: {detail}", file=sys.stderr)
        return False
    return True
