"""What a search leaves in its run directory: trials.csv, pareto.csv/.png/.html, best/ and a printed summary.

Everything is rebuilt from the study alone, so the same command reports a shared study while workers still run.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
from pathlib import Path
from typing import Any

import optuna

from search.space import from_json
from search.workers import QUOTA

COLUMNS = (
    "trial", "state", "architecture", "metric", "map50", "gflops", "params", "latency_ms", "duration_s", "epochs",
    "reused_from", "reason", "hparams",
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
            "duration_s": round(t.duration.total_seconds(), 1) if t.duration else None,
            "epochs": len(a.get("curve", [])) or None,
            "reused_from": a.get("reused_from"),
            "reason": a.get("reason", ""),
            "hparams": json.dumps({s: h for s, (_, h) in arch.items() if h}, sort_keys=True) if arch else "",
        }
        row.update({f"site_{s}": k for s, (k, _) in arch.items()})
        rows.append(row)
    return rows


def pareto_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The completed trials on the front (mAP up, cost down), cheapest first."""
    try:
        front = study.best_trials
    except ValueError:  # no completed trial yet
        return []
    return sorted(front, key=lambda t: (t.values[1], -t.values[0]))


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
    base = [r for r in done if r["architecture"] == "baseline"]
    if base:
        ax.scatter([base[0][cost]], [base[0]["metric"]], marker="*", s=160, c="#edae49", ec="k", label="baseline")
    ax.set_xlabel(cost)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_html(rows: list[dict[str, Any]], front: set[int], cost: str, metric: str, path: Path) -> None:
    """A self-contained page: an SVG scatter (hover a point for its architecture) and the table of all trials."""
    done = [r for r in rows if r["state"] == "COMPLETE" and r["metric"] is not None]
    w, h, pad = 640, 400, 50
    xs, ys = [r[cost] for r in done] or [0.0], [r["metric"] for r in done] or [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def px(r: dict[str, Any]) -> tuple[float, float]:
        fx = (r[cost] - x0) / ((x1 - x0) or 1)
        fy = (r["metric"] - y0) / ((y1 - y0) or 1)
        return pad + fx * (w - 2 * pad), h - pad - fy * (h - 2 * pad)

    dots = []
    for r in done:
        x, y = px(r)
        color = "#edae49" if r["architecture"] == "baseline" else "#d1495b" if r["trial"] in front else "#9aa5b1"
        tip = html.escape(f"trial {r['trial']}: {r['architecture']} — {metric} {r['metric']:.4f}, {cost} {r[cost]}")
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{color}"><title>{tip}</title></circle>')
    axes = (
        f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">{cost} ({x0:.4g} – {x1:.4g})</text>'
        f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle">'
        f"{metric} ({y0:.4g} – {y1:.4g})</text>"
        f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#ccc"/>'
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS[:-1])
    body = "".join(
        f"<tr{' class=front' if r['trial'] in front else ''}>"
        + "".join(f"<td>{html.escape('' if r[c] is None else str(r[c]))}</td>" for c in COLUMNS[:-1])
        + "</tr>"
        for r in rows
    )
    path.write_text(
        "<!doctype html><meta charset=utf-8><title>Pareto front</title>"
        "<style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 8px;border-bottom:1px solid #eee}"
        "tr.front{background:#fbe3e6}</style>"
        f"<h1>Pareto front: {html.escape(metric)} versus {html.escape(cost)}</h1>"
        "<p>red: on the front, yellow: baseline, grey: other completed trials</p>"
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">{axes}{"".join(dots)}</svg>'
        f"<table><tr>{head}</tr>{body}</table>"
    )


def summary_table(rows: list[dict[str, Any]], front: set[int], cost: str, metric: str) -> str:
    """A text table of the front with the change against the baseline."""
    base = next((r for r in rows if r["architecture"] == "baseline" and r["state"] == "COMPLETE"), None)
    lines = [f"{'trial':>5}  {metric:>9}  {'Δ':>7}  {cost:>9}  architecture"]
    for r in sorted((r for r in rows if r["trial"] in front), key=lambda r: r[cost]):
        delta = f"{r['metric'] - base['metric']:+.4f}" if base else "—"
        lines.append(f"{r['trial']:>5}  {r['metric']:>9.4f}  {delta:>7}  {r[cost]:>9.4g}  {r['architecture']}")
    return "\n".join(lines)


def write_all(study: optuna.Study, out_dir: Path, cost: str, metric: str) -> tuple[list[Path], str]:
    """Write every output of the study to ``out_dir``; returns the files written and the summary table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(study)
    front_trials = pareto_trials(study)
    front = {t.number for t in front_trials}
    files = [out_dir / "trials.csv", out_dir / "pareto.csv", out_dir / "pareto.png", out_dir / "pareto.html"]
    write_csv(rows, files[0])
    write_csv([r for r in rows if r["trial"] in front], files[1])
    plot_png(rows, front, cost, metric, files[2])
    plot_html(rows, front, cost, metric, files[3])
    files += copy_best(front_trials, out_dir / "best")
    return files, summary_table(rows, front, cost, metric)
