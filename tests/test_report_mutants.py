"""The report against expectations computed here: every trials.csv field, the paired test and Holm over a hand-built
study, the front's order and dedup, the exact summary and verdicts, best/, the figures' data, and failing outputs.

Written to kill the mutants ``python benchmarks/mutation.py`` found alive (README, Development).
"""

from __future__ import annotations

import csv
import datetime
import math
import statistics
import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pytest
from scipy import stats as scipy_stats

from search import report, space
from search.evaluate import REPEATS
from search.heartbeat import LOST
from search.workers import QUOTA, REASON

BASE = [0.30, 0.32, 0.31]
SE = [0.33, 0.345, 0.35]  # differences 0.03, 0.025, 0.04 to the baseline
BOTH = [0.29, 0.33]  # two repeats: differences -0.01, +0.01 to the baseline's first two
ARCH = {"9": ("cbam", {"reduction": 8}), "15": ("se", {"reduction": 4})}
State = optuna.trial.TrialState


def _trial(state: State, values: list[float] | None, seconds: float = 0.0, **attrs: Any) -> optuna.trial.FrozenTrial:
    t = optuna.trial.create_trial(state=state, values=values, user_attrs=attrs)
    t.datetime_start = t.datetime_complete - datetime.timedelta(seconds=seconds)
    return t


def _arch(arch: space.Architecture, key: str) -> dict[str, Any]:
    return {"arch": space.to_json(arch), "describe": space.describe(arch), "arch_key": key}


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    """Baseline, a block, its reuse, a failure, over quota, two blocks, lost, one repeat, stopped early, running.

    The block's trial has a weights file, the baseline a YAML that no longer exists.
    """
    study = optuna.create_study(directions=["maximize", "minimize"])
    (tmp_path / "w.pt").write_bytes(b"w")
    base = {"map50": 0.5, "gflops": 8.0, "params": 3_200_000, "latency_ms": 12.5, "latency_ratio": 1.0}
    study.add_trial(_trial(State.COMPLETE, [0.31, 8.0], 12.34, **_arch({}, "b"), metric=0.31, **{REPEATS: BASE},
                           curve=[0.1, 0.2, 0.3], yaml=str(tmp_path / "gone.yaml"), **base))  # fmt: skip
    se = {**_arch({"15": ("se", {})}, "se"), "metric": 0.34166, REPEATS: SE, "gflops": 9.0}
    study.add_trial(_trial(State.COMPLETE, [0.34166, 9.0], 3.0, **se, weights=str(tmp_path / "w.pt")))
    study.add_trial(_trial(State.COMPLETE, [0.34166, 9.0], 0.1, **se, reused_from=1))
    study.add_trial(_trial(State.FAIL, None, 2.0, **{REASON: "out of memory"}))
    study.add_trial(_trial(State.PRUNED, None, 1.0, **{QUOTA: True}))
    study.add_trial(_trial(State.COMPLETE, [0.31, 10.0], 4.0, **_arch(ARCH, "two"), metric=0.31, **{REPEATS: BOTH},
                           gflops=10.0))  # fmt: skip
    study.add_trial(_trial(State.FAIL, None, 5.0, **{LOST: "its worker died"}))
    study.add_trial(_trial(State.COMPLETE, [0.305, 8.5], 1.0, **_arch({"12": ("eca", {})}, "eca"), metric=0.305,
                           gflops=8.5))  # fmt: skip
    study.add_trial(_trial(State.PRUNED, None, 2.0, **_arch({"21": ("se", {})}, "se21"), metric=0.2, gflops=9.5))
    study.ask()  # running: no duration yet
    return study


def _p(a: list[float], b: list[float]) -> float:
    return float(scipy_stats.ttest_rel(a, b).pvalue)


def test_trial_rows_hold_every_field(study: optuna.Study) -> None:
    rows = report.trial_rows(study)
    assert [r["trial"] for r in rows] == [0, 1, 2, 3, 5, 6, 7, 8, 9]  # the over-quota trial 4 is not a trial
    none = dict.fromkeys(("delta", "delta_low", "delta_high", "p_value", "p_holm", "significant"))
    assert rows[0] == {
        "trial": 0, "state": "COMPLETE", "architecture": "baseline", "metric": 0.31, "metric_std": 0.01, "repeats": 3,
        **none, "repeat_metrics": "0.30000 0.32000 0.31000", "map50": 0.5, "gflops": 8.0, "params": 3_200_000,
        "latency_ms": 12.5, "latency_ratio": 1.0, "duration_s": 12.3, "epochs": 3, "reused_from": None, "reason": "",
        "hparams": "",
    }  # fmt: skip
    assert rows[1]["site_15"] == "se" and rows[1]["hparams"] == "{}"  # a block at its defaults
    assert rows[1]["metric_std"] == round(statistics.stdev(SE), 5) and rows[1]["duration_s"] == 3.0
    assert (rows[3]["state"], rows[3]["reason"], rows[3]["metric"], rows[3]["repeats"]) == ("FAIL", "out of memory",
                                                                                            None, None)  # fmt: skip
    assert rows[3]["repeat_metrics"] == "" and rows[3]["metric_std"] is None and rows[3]["epochs"] is None
    two = rows[4]
    assert (two["site_9"], two["site_15"]) == ("cbam", "se")
    assert two["architecture"] == "9:cbam(reduction=8) 15:se(reduction=4)"
    assert two["hparams"] == '{"15": {"reduction": 4}, "9": {"reduction": 8}}'
    assert rows[5]["reason"] == "its worker died"
    one = rows[6]  # one repeat: its metric is its only value, no spread, no test
    assert (one["repeats"], one["repeat_metrics"], one["metric_std"]) == (1, "0.30500", None)
    assert one["delta"] == pytest.approx(0.305 - 0.30) and one["delta_low"] is None and one["p_value"] is None
    assert (rows[7]["state"], rows[7]["metric"], rows[7]["delta"]) == ("PRUNED", 0.2, None)  # stopped: not compared
    assert (rows[8]["state"], rows[8]["duration_s"], rows[8]["architecture"]) == ("RUNNING", None, "")


def test_paired_test_and_holm_by_hand(study: optuna.Study) -> None:
    rows = {r["trial"]: r for r in report.trial_rows(study)}
    d = [s - b for s, b in zip(SE, BASE, strict=True)]
    mean, sd = sum(d) / 3, statistics.stdev(d)
    half = scipy_stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    p_se, p_two = _p(SE, BASE), _p(BOTH, BASE[:2])
    assert p_two == pytest.approx(1.0) and 0.01 < p_se < 0.025
    se = rows[1]
    assert (se["delta"], se["delta_low"], se["delta_high"]) == (round(mean, 5), round(mean - half, 5),
                                                                round(mean + half, 5))  # fmt: skip
    assert se["p_value"] == float(f"{p_se:.4g}")
    # Holm over the two evaluated architectures (the reuse shares its source's test and is not counted)
    assert se["p_holm"] == float(f"{2 * p_se:.4g}") and se["significant"] is True
    reuse = rows[2]
    assert (reuse["delta"], reuse["p_value"], reuse["p_holm"], reuse["significant"]) == (
        se["delta"], se["p_value"], se["p_holm"], True
    )  # fmt: skip
    two = rows[5]
    assert two["delta"] == pytest.approx(0.0, abs=1e-9) and two["p_holm"] == 1.0 and two["significant"] is False
    assert two["delta_low"] == round(-scipy_stats.t.ppf(0.975, 1) * statistics.stdev([-0.01, 0.01]) / math.sqrt(2), 5)
    assert two["delta_high"] == round(scipy_stats.t.ppf(0.975, 1) * statistics.stdev([-0.01, 0.01]) / math.sqrt(2), 5)
    for n in (0, 3, 6, 7, 8, 9):  # the baseline itself, failures, one repeat, stopped early, running
        assert rows[n]["p_holm"] is None and rows[n]["significant"] is None


def test_without_a_completed_baseline_nothing_is_compared() -> None:
    rows = [
        {"trial": 0, "state": "FAIL", "architecture": "baseline", "metric": None, "repeat_metrics": "",
         "reused_from": None, "delta": None},
        {"trial": 1, "state": "COMPLETE", "architecture": "15:se", "metric": 0.3, "repeat_metrics": "0.5 0.75",
         "reused_from": None, "delta": None},
    ]  # fmt: skip
    report.compare_to_baseline(rows)
    assert rows[1]["delta"] is None
    assert report.verdict(rows) == "No completed baseline: nothing can be compared with it."
    rows[0]["state"] = "COMPLETE"
    rows[0]["metric"], rows[0]["repeat_metrics"] = 0.375, "0.25 0.5"
    assert report._baseline(rows) is rows[0]
    report.compare_to_baseline(rows)
    assert rows[1]["delta"] == 0.25 and rows[0]["delta"] is None
    rows[0]["repeat_metrics"], rows[1]["delta"] = "", None  # a baseline without values: nothing to pair with
    report.compare_to_baseline(rows)
    assert rows[1]["delta"] is None


def test_repeats_that_share_a_baseline_draw_are_tested_as_one_unit() -> None:
    """Four repeats from two baselines: the Δ is consistent within a draw and differs between them, so the four look
    significant but the two draws' means (repeats 0 and 2; 1 and 3) do not; with a draw per repeat, the plain test."""

    def rows() -> list[dict[str, Any]]:
        return [
            {"trial": 0, "state": "COMPLETE", "architecture": "baseline", "metric": 0.3,
             "repeat_metrics": "0.300 0.300 0.300 0.300", "reused_from": None},
            {"trial": 1, "state": "COMPLETE", "architecture": "15:se", "metric": 0.3,
             "repeat_metrics": "0.310 0.304 0.311 0.305", "reused_from": None},
        ]  # fmt: skip

    plain, clustered, own = rows(), rows(), rows()
    report.compare_to_baseline(plain)
    report.compare_to_baseline(clustered, draws=2)
    report.compare_to_baseline(own, draws=4)
    assert plain[1]["p_value"] == float(f"{_p([0.310, 0.304, 0.311, 0.305], [0.3] * 4):.4g}") < 0.05
    assert clustered[1]["p_value"] == float(f"{_p([0.3105, 0.3045], [0.3, 0.3]):.4g}") > 0.05
    assert clustered[1]["delta"] == plain[1]["delta"] == 0.0075  # equal counts per draw: the same estimate
    assert own[1] == plain[1]


def test_holm_p_is_for_tested_rows_and_significance_is_strictly_below_alpha(monkeypatch: pytest.MonkeyPatch) -> None:
    def row(trial: int, state: str, values: str, reused_from: int | None = None) -> dict[str, Any]:
        return {"trial": trial, "state": state, "architecture": "baseline" if trial == 0 else f"{trial}:se",
                "metric": 0.3, "repeat_metrics": values, "reused_from": reused_from}  # fmt: skip

    rows = [row(0, "COMPLETE", "0.30 0.32"), row(1, "COMPLETE", "0.33 0.34"), row(2, "FAIL", "", reused_from=1)]
    monkeypatch.setattr(report, "holm", lambda ps: [0.05] * len(ps))
    report.compare_to_baseline(rows)
    assert (rows[1]["p_holm"], rows[1]["significant"]) == (0.05, False)
    assert "p_holm" not in rows[2] and "significant" not in rows[2]  # a failed copy of a tested trial has no test


def test_front_is_one_point_per_architecture_cheapest_first(study: optuna.Study) -> None:
    assert [t.number for t in report.pareto_trials(study)] == [0, 1]  # trial 2 reuses 1; 5 and 7 are dominated
    assert report.pareto_trials(optuna.create_study(directions=["maximize", "minimize"])) == []
    other = optuna.create_study(directions=["maximize", "minimize"])
    other.add_trial(_trial(State.COMPLETE, [0.5, 9.0], arch_key="a"))
    other.add_trial(_trial(State.COMPLETE, [0.4, 3.0], arch_key="b", reused_from=2))  # a copy listed first
    other.add_trial(_trial(State.COMPLETE, [0.4, 3.0], arch_key="b"))  # the trial that evaluated b
    other.add_trial(_trial(State.COMPLETE, [0.4, 3.0], arch_key="c"))  # the same point, another architecture
    assert [t.number for t in report.pareto_trials(other)] == [2, 3, 0]


def test_csv_columns_sites_in_layer_order_and_empty_cells(study: optuna.Study, tmp_path: Path) -> None:
    rows = report.trial_rows(study)
    report.write_csv(rows, tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_bytes().decode().split("\r\n")  # the csv module's own line ends
    assert lines[0] == ",".join(report.COLUMNS) + ",site_9,site_12,site_15,site_21"
    assert lines[1] == (
        "0,COMPLETE,baseline,0.31,0.01,3,,,,,,,0.30000 0.32000 0.31000,0.5,8.0,3200000,12.5,1.0,12.3,3,,,,,,,"
    )  # None is an empty cell, and so is every site the trial has no block at
    assert len(lines) == len(rows) + 2 and lines[-1] == ""
    report.write_csv([{"trial": 0, "site_layer2.1": "se"}, {"trial": 1, "site_layer1": "eca"}], tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().splitlines()[0].endswith(",hparams,site_layer1,site_layer2.1")


def test_copy_best_copies_each_front_trials_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("yaml of 3")
    (tmp_path / "a.pt").write_bytes(b"weights of 3")
    (tmp_path / "b.pt").write_bytes(b"weights of 12")
    front = [
        _trial(State.COMPLETE, [0.3, 1.0], yaml=str(tmp_path / "a.yaml"), weights=str(tmp_path / "a.pt")),
        _trial(State.COMPLETE, [0.4, 2.0], weights=str(tmp_path / "b.pt"), yaml=str(tmp_path / "gone.yaml")),
    ]
    front[0].number, front[1].number = 3, 12
    best = tmp_path / "run" / "best"  # its parent does not exist yet
    written = report.copy_best(front, best)
    assert written == [best / "trial_003.yaml", best / "trial_003.pt", best / "trial_012.pt"]
    assert [p.read_bytes() for p in written] == [b"yaml of 3", b"weights of 3", b"weights of 12"]
    assert report.copy_best(front[1:], best) == [best / "trial_012.pt"]  # again, into the existing folder


def _summary_rows() -> list[dict[str, Any]]:
    return [
        {"trial": 0, "state": "COMPLETE", "architecture": "baseline", "metric": 0.3, "metric_std": 0.01, "delta": None,
         "delta_low": None, "p_holm": None, "significant": None, "gflops": 8.0, "repeats": 3, "reused_from": None},
        {"trial": 4, "state": "COMPLETE", "architecture": "15:se", "metric": 0.3312, "metric_std": 0.0123,
         "delta": 0.0312, "delta_low": 0.0101, "delta_high": 0.0523, "p_holm": 0.0123456, "significant": True,
         "gflops": 9.5, "repeats": 3, "reused_from": None},
        {"trial": 2, "state": "COMPLETE", "architecture": "9:eca", "metric": 0.2, "metric_std": None, "delta": -0.1,
         "delta_low": None, "p_holm": None, "significant": False, "gflops": 12.25, "repeats": 1, "reused_from": None},
        {"trial": 5, "state": "COMPLETE", "architecture": "15:se", "metric": 0.3312, "metric_std": 0.0123,
         "delta": 0.0312, "delta_low": 0.0101, "delta_high": 0.0523, "p_holm": 0.0123456, "significant": True,
         "gflops": 9.5, "repeats": 3, "reused_from": 4},
        {"trial": 7, "state": "COMPLETE", "architecture": "21:soca", "metric": 0.1, "metric_std": None, "delta": -0.2,
         "delta_low": None, "p_holm": 0.5, "significant": False, "gflops": 30.0, "repeats": 3, "reused_from": None},
        {"trial": 6, "state": "COMPLETE", "architecture": "12:eca", "metric": 0.3, "metric_std": 0.001, "delta": 0.0,
         "delta_low": -0.001, "delta_high": 0.001, "p_holm": 0.01, "significant": True, "gflops": 10.0, "repeats": 3,
         "reused_from": None},  # significant, but no better: not a win
        {"trial": 9, "state": "COMPLETE", "architecture": "18:cbam", "metric": 0.31, "metric_std": 0.002, "delta": 0.01,
         "delta_low": 0.005, "delta_high": 0.015, "p_holm": 0.02, "significant": True, "gflops": 40.0, "repeats": 3,
         "reused_from": None},  # a win off the front
    ]  # fmt: skip


def test_summary_table_exactly() -> None:
    table = report.summary_table(_summary_rows(), {0, 4, 2, 6}, "gflops", "map50_95")
    assert table.split("\n") == [
        "trial   map50_95    ± std        Δ         95% CI of Δ  p (Holm)     gflops  architecture",
        "    0     0.3000   0.0100  +0.0000                   —         —          8  baseline",
        "    4     0.3312   0.0123  +0.0312  [+0.0101, +0.0523]    0.0123        9.5  15:se *",
        "    6     0.3000   0.0010  +0.0000  [-0.0010, +0.0010]      0.01         10  12:eca",
        "    2     0.2000        —  -0.1000                   —         —      12.25  9:eca",
        "",
        "Significantly better than the baseline (paired t-test over common repeats from one trained baseline, "
        "Holm-corrected at 0.05): trial 4 (15:se, Δ +0.0312); trial 9 (18:cbam, Δ +0.0100).",  # reuse 5: not again
    ]
    alone = {**_summary_rows()[2], "delta": None}  # no baseline, so nothing has a Δ
    assert report.summary_table([alone], {2}, "gflops", "map50_95").split("\n")[1:] == [
        "    2     0.2000        —        —                   —         —      12.25  9:eca",
        "",
        "No completed baseline: nothing can be compared with it.",
    ]


def test_verdicts_exactly() -> None:
    rows = _summary_rows()
    for r in rows[1:]:
        r["significant"] = False
    assert report.verdict(rows) == (
        "No architecture beats the baseline significantly (paired t-test over common repeats from one trained "
        "baseline, Holm-corrected at 0.05)."
    )
    assert "over common repeats from 3 trained baselines," in report.verdict(rows, draws=3)
    rows[0]["repeats"] = 1
    assert report.verdict(rows) == (
        "No architecture can be said to beat the baseline: with one repeat per architecture there is no test "
        "(set search.repeats to 2 or more)."
    )
    rows[0]["repeats"] = None
    assert report.verdict(rows).startswith("No architecture can be said to beat the baseline: with one repeat")
    rows[2].update(significant=True, delta=-0.1)  # significantly worse is not better
    rows[0]["repeats"] = 2
    assert report.verdict(rows).startswith("No architecture beats the baseline significantly")


def test_pareto_figure_points_hover_star_and_title(study: optuna.Study) -> None:
    rows = report.trial_rows(study)
    by_trial = {r["trial"]: r for r in rows}
    fig = report.pareto_figure(study, rows, "gflops", "map50_95")
    values = "<br>map50_95 %{y:.4f}<br>gflops %{x:.4g}<extra></extra>"
    *traces, star = fig.data
    points = {}
    for trace in traces:
        assert trace.hovertemplate == "%{text}" + values
        for x, y, text, bar in zip(trace.x, trace.y, trace.text, trace.error_y.array, strict=True):
            points[text] = (x, y, bar)
    se = by_trial[1]
    se_text = (f"trial 1: 15:se<br>Δ {se['delta']:+.4f} [{se['delta_low']:+.4f}, {se['delta_high']:+.4f}], "
               f"p (Holm) {se['p_holm']:.3g} *")  # fmt: skip
    assert points[se_text] == (9.0, 0.34166, se["metric_std"])  # cost across, metric up
    assert points["trial 0: baseline"] == (8.0, 0.31, 0.01)
    assert points["trial 7: 12:eca"] == (8.5, 0.305, 0.0)  # no spread, no test: no Δ in the hover
    two = by_trial[5]
    (two_text,) = [p for p in points if p.startswith("trial 5")]
    assert two_text.startswith(f"trial 5: {two['architecture']}<br>Δ +0.0000 [{two['delta_low']:+.4f}, ")
    assert two_text.endswith("p (Holm) 1") and points[two_text] == (10.0, 0.31, two["metric_std"])
    assert (star.x, star.y, star.text, star.showlegend) == ((8.0,), (0.31,), ("baseline",), False)
    assert star.hovertemplate == "trial 0: baseline" + values and star.marker.symbol == "star"
    assert fig.layout.title.text == "Pareto front: map50_95 versus gflops"
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("gflops", "map50_95")
    assert star.mode == "markers+text"  # the star says "baseline"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["mAP", "GFLOPs"])
    fig = report.pareto_figure(study, rows, "gflops", "map50_95")
    assert fig.layout.title.text == "Pareto front: mAP versus GFLOPs"
    assert fig.data[-1].hovertemplate == "trial 0: baseline<br>mAP %{y:.4f}<br>GFLOPs %{x:.4g}<extra></extra>"


def test_pareto_figure_of_a_study_that_reused_the_baseline(study: optuna.Study) -> None:
    """A grid or a small space proposes the baseline again: that trial reuses trial 0, has a Δ interval and no
    Holm-corrected p (it is the baseline), and the figure is still drawn."""
    base = study.trials[0]
    study.add_trial(_trial(State.COMPLETE, [0.31, 8.0], 0.1, **_arch({}, "b"), metric=0.31, **{REPEATS: BASE},
                           gflops=8.0, reused_from=0))  # fmt: skip
    rows = report.trial_rows(study)
    (again,) = [r for r in rows if r["reused_from"] == base.number]
    assert again["delta_low"] is not None and again.get("p_holm") is None
    fig = report.pareto_figure(study, rows, "gflops", "map50_95")
    texts = [text for trace in fig.data[:-1] for text in trace.text]
    assert f"trial {again['trial']}: baseline<br>Δ +0.0000 [+0.0000, +0.0000]" in texts


def test_hypervolume_reference_and_history(study: optuna.Study) -> None:
    fig = report.hypervolume_figure(study, "gflops", "map50_95")
    assert fig.layout.title.text == "Hypervolume (reference: map50_95 0, gflops 11)"  # 10% above the costliest, 10
    # the area between (metric 0, cost 11) and the front (0.31 at 8, 0.34166 at 9): 0.31 * 3 + (0.34166 - 0.31) * 2
    assert fig.data[0].y[-1] == pytest.approx(0.31 * 3 + (0.34166 - 0.31) * 2)
    assert fig.data[0].y[0] == pytest.approx(0.31 * 3)  # after trial 0 alone
    empty = report.hypervolume_figure(optuna.create_study(directions=["maximize", "minimize"]), "gflops", "map50_95")
    assert empty.layout.title.text == "Hypervolume (reference: map50_95 0, gflops 0)"


def test_html_is_self_contained(study: optuna.Study, tmp_path: Path) -> None:
    report.write_html(report.hypervolume_figure(study, "gflops", "map50_95"), tmp_path / "h.html")
    text = (tmp_path / "h.html").read_text()
    assert len(text) > 1_000_000 and '<script src="https://cdn.plot.ly' not in text  # plotly.js itself is in the page


def test_png_draws_trials_spread_front_wins_and_baseline(
    study: optuna.Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures: list[Any] = []
    subplots = plt.subplots
    monkeypatch.setattr(plt, "subplots", lambda *a, **k: figures.append(subplots(*a, **k)) or figures[-1])
    rows = report.trial_rows(study)
    report.plot_png(rows, {0, 1}, "gflops", "map50_95", tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    [(_, ax)] = figures
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("gflops", "map50_95")
    scatter = {c.get_label(): c.get_offsets().tolist() for c in ax.collections if c.get_label()[0] != "_"}
    done = [[r["gflops"], r["metric"]] for r in rows if r["state"] == "COMPLETE"]
    assert scatter == {
        "trials": done,
        "beats the baseline (Holm, α=0.05)": [[9.0, 0.34166]],
        "Pareto front": [[8.0, 0.31], [9.0, 0.34166]],
        "baseline": [[8.0, 0.31]],
    }
    (bars,) = ax.containers
    assert bars.get_label() == "± std over repeats"
    spread = [r for r in rows if r.get("metric_std")]  # baseline, se, its reuse, the two-block trial
    segments = bars.lines[2][0].get_segments()
    ends = [(r["gflops"], r["metric"], r["metric_std"]) for r in spread]
    expected = [[[x, y - s], [x, y + s]] for x, y, s in ends]
    np.testing.assert_allclose(np.array(segments), np.array(expected))
    (step,) = ax.lines[-1:]
    assert step.get_drawstyle() == "steps-post" and step.get_xydata().tolist() == [[8.0, 0.31], [9.0, 0.34166]]
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("baseline", (8.0, 0.31)), ("15:se", (9.0, 0.34166))]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "trials", "beats the baseline (Holm, α=0.05)", "Pareto front", "baseline", "± std over repeats"
    ]  # fmt: skip


def test_write_all_lists_its_files_and_survives_a_failing_output(
    study: optuna.Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    drawn: list[tuple] = []
    monkeypatch.setattr(report, "plot_png", lambda *args: drawn.append(args) or args[-1].write_bytes(b"png"))

    def boom(*args: Any) -> None:
        raise RuntimeError("no display\nsecond line")

    monkeypatch.setattr(report, "plot_heatmap", boom)
    out = tmp_path / "run" / "out"  # its parent does not exist yet
    files, summary = report.write_all(study, out, "gflops", "map50_95")
    names = ["trials.csv", "pareto.csv", "pareto.png", "pareto.html", "hypervolume.html"]
    assert files == [out / n for n in names] + [out / "best" / "trial_001.pt"]
    assert all(p.is_file() for p in files)
    assert capsys.readouterr().err == "warning: heatmap.png not written: RuntimeError: no display\n"
    assert [r["trial"] for r in csv.DictReader((out / "pareto.csv").open())] == ["0", "1"]
    rows = report.trial_rows(study)
    assert drawn == [(rows, {0, 1}, "gflops", "map50_95", out / "pareto.png")]
    assert "Pareto front: map50_95 versus gflops" in (out / "pareto.html").read_text()
    assert "Hypervolume (reference: map50_95 0, gflops 11)" in (out / "hypervolume.html").read_text()
    assert summary == report.summary_table(rows, {0, 1}, "gflops", "map50_95")

    mapped: list[tuple] = []
    monkeypatch.setattr(report, "plot_heatmap", lambda *args: mapped.append(args))
    monkeypatch.setattr(report, "copy_best", lambda *args: (_ for _ in ()).throw(OSError("read-only")))
    files, _ = report.write_all(study, out, "gflops", "map50_95")
    assert files == [out / n for n in [*names, "heatmap.png"]]  # again into the same folder; best/ failed
    assert mapped == [(rows, "map50_95", out / "heatmap.png")]
    assert capsys.readouterr().err == "warning: best/ not written: OSError: read-only\n"


def test_guarded_says_what_failed_in_one_line(capsys: pytest.CaptureFixture) -> None:
    assert report.guarded("x", lambda a, b: None, 1, 2) is True
    calls = []
    assert report.guarded("x", lambda *a: calls.append(a), 1, 2) and calls == [(1, 2)]
    assert report.guarded("best/", lambda: (_ for _ in ()).throw(OSError(" disk full\nmore"))) is False

    def silent() -> None:
        raise ValueError

    assert report.guarded("pareto.png", silent) is False
    assert capsys.readouterr().err == (
        "warning: best/ not written: OSError: disk full\nwarning: pareto.png not written: ValueError: \n"
    )


def test_beating_the_baseline_is_significant_and_better() -> None:
    assert report._beats({"significant": True, "delta": 0.01})
    assert not report._beats({"significant": True, "delta": 0.0})  # significant, but no better
    assert not report._beats({"significant": True, "delta": None})
    assert not report._beats({"significant": False, "delta": 0.01}) and not report._beats({})
