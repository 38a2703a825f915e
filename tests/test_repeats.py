"""Repeats with common random numbers, and what every output says about them: spread, paired Δ, its interval, the
paired test against the baseline, Holm's correction and a plain verdict."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import optuna
import pytest
import torch
from scipy import stats as scipy_stats

from runners import TrainConfig, TrialResult
from search import report, space, workers
from search.evaluate import REPEAT_CURVES, REPEATS, Evaluate
from search.heatmap import Cell, block_site_cells
from search.objective import Objective
from search.placement import apply
from search.study import create, make_storage
from search.tracking import Tracker

BASE = [0.300, 0.320, 0.310, 0.305]  # the baseline's score at repeats 0-3
SHIFT = {  # each block's effect at each repeat: clearly better, no effect, worse
    "se": [0.020, 0.021, 0.019, 0.020],
    "cbam": [0.004, -0.006, 0.001, -0.002],
    "eca": [-0.03, -0.02, -0.04, -0.03],
}


def test_each_repeat_has_its_seed_and_the_value_is_their_mean(tmp_path: Path) -> None:
    seeds: list[int] = []
    gates: list[torch.Tensor] = []

    def fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch, **kwargs) -> TrialResult:
        seeds.append(cfg.seed)
        gates.append(next(p for n, p in model.named_parameters() if ".attn.block." in n).detach().clone())
        on_epoch(0, {"map50_95": 0.1 * cfg.seed})
        return TrialResult({"map50_95": 0.1 * cfg.seed}, 0.1 * cfg.seed, 1, 1.0, 1.0, False)

    evaluate = Evaluate("yolov8n.yaml", fit, None, 10, tmp_path, imgsz=64, early_stop=None, seed=5, repeats=3,
                        settings=TrainConfig(seed=5))  # fmt: skip
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    metric, _ = evaluate(trial, {"21": ("se", {})}, [])
    assert seeds == [5, 6, 7]
    assert not torch.equal(gates[0], gates[1])  # each repeat's blocks start from its own seed
    assert metric == pytest.approx((0.5 + 0.6 + 0.7) / 3)
    assert study.trials[0].user_attrs[REPEATS] == [0.5, 0.6, 0.7]
    assert study.trials[0].user_attrs["curve"] == [0.5]  # early stopping compares repeat 0 with repeat 0
    with pytest.raises(ValueError, match="repeats need the training settings"):
        Evaluate("yolov8n.yaml", fit, None, 10, tmp_path, repeats=2)


def _study(tmp_path: Path, repeats: int) -> optuna.Study:
    """A study of the baseline and one block at site 12 each, scores built from BASE and SHIFT per repeat."""
    study = create(make_storage(None, tmp_path), "repeats", optuna.samplers.RandomSampler(0), resume=False)
    study.set_metric_names(["map50_95", "gflops"])
    study.enqueue_trial(space.baseline_params(list(SHIFT), 1))
    for key in SHIFT:  # every architecture once, in this order
        study.enqueue_trial({"slot0.site": "12", "slot0.block": key})

    def evaluate(trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
        keys = [k for k, _ in arch.values()]
        values = [round(b + (SHIFT[keys[0]][i] if keys else 0.0), 5) for i, b in enumerate(BASE[:repeats])]
        cost = 1.0 + 0.1 * len(keys) + 0.01 * list(SHIFT).index(keys[0]) if keys else 1.0
        trial.set_user_attr(REPEATS, values)
        trial.set_user_attr("metric", sum(values) / len(values))
        trial.set_user_attr("gflops", cost)
        return sum(values) / len(values), cost

    objective = Objective(evaluate=evaluate, sites=["12"], candidates={k: {} for k in SHIFT}, max_blocks=1,
                          sample_hparams=False, n_trials=1 + len(SHIFT), poll=0.1, settle=0.0)  # fmt: skip
    workers.run(study, objective, n_trials=1 + len(SHIFT), poll=0.1)
    return study


def test_paired_deltas_intervals_and_holm_against_an_independent_computation(tmp_path: Path) -> None:
    study = _study(tmp_path, repeats=4)
    rows = {r["architecture"].split(":")[-1].split("(")[0]: r for r in report.trial_rows(study)}
    raw = {}
    for key, shift in SHIFT.items():
        r, values = rows[key], [b + s for b, s in zip(BASE, shift, strict=True)]
        d = [v - b for v, b in zip(values, BASE, strict=True)]
        mean, sd = sum(d) / 4, math.sqrt(sum((x - sum(d) / 4) ** 2 for x in d) / 3)
        half = scipy_stats.t.ppf(0.975, 3) * sd / 2
        assert r["repeats"] == 4 and r["metric_std"] == pytest.approx(scipy_stats.tstd(values), abs=1e-5)
        interval = (r["delta"], r["delta_low"], r["delta_high"])
        assert interval == pytest.approx((mean, mean - half, mean + half), abs=1e-5)
        raw[key] = scipy_stats.ttest_rel(values, BASE).pvalue
        assert r["p_value"] == pytest.approx(raw[key], rel=1e-3)
    order = sorted(raw, key=raw.get)  # Holm by hand: the i-th smallest times (m - i), never decreasing
    expected, running = {}, 0.0
    for i, key in enumerate(order):
        running = max(running, min(1.0, (3 - i) * raw[key]))
        expected[key] = running
    for key in SHIFT:
        assert rows[key]["p_holm"] == pytest.approx(expected[key], rel=1e-3)
        assert rows[key]["significant"] == (expected[key] < 0.05)
    assert rows["se"]["significant"] and not rows["cbam"]["significant"]
    assert rows["baseline"]["delta"] is None and rows["baseline"]["repeats"] == 4

    _, summary = report.write_all(study, tmp_path / "out", "gflops", "map50_95")
    front = list(csv.DictReader((tmp_path / "out" / "pareto.csv").open()))
    assert {"delta", "delta_low", "delta_high", "p_value", "p_holm", "significant", "metric_std"} <= set(front[0])
    se = rows["se"]
    assert summary.splitlines()[-1] == (
        "Significantly better than the baseline (paired t-test over common repeats from one trained baseline, "
        f"Holm-corrected at 0.05): trial {se['trial']} ({se['architecture']}, Δ {se['delta']:+.4f})."
    )
    assert f"{se['architecture']} *" in summary


def test_the_pareto_page_has_error_bars_and_rings_what_beats_the_baseline(tmp_path: Path) -> None:
    study = _study(tmp_path, repeats=4)
    rows = report.trial_rows(study)
    by_trial = {r["trial"]: r for r in rows}
    points = {}
    for trace in report.pareto_figure(study, rows, "gflops", "map50_95").data[:-1]:  # the last one is the star
        for text, bar, ring in zip(trace.text, trace.error_y.array, trace.marker.line.width, strict=True):
            points[int(text.split(":")[0].removeprefix("trial "))] = (text, bar, ring)
    assert set(points) == {t.number for t in study.trials}
    for number, (text, bar, ring) in points.items():
        r = by_trial[number]
        assert bar == pytest.approx(r["metric_std"])
        assert ring == (2 if r["significant"] and r["delta"] > 0 else 0)
        if r["architecture"] != "baseline":
            assert f"Δ {r['delta']:+.4f} [{r['delta_low']:+.4f}, {r['delta_high']:+.4f}]" in text
    assert sum(ring for _, _, ring in points.values()) == 2  # se alone beats the baseline


def test_nothing_beats_the_baseline_is_said_plainly(tmp_path: Path) -> None:
    global SHIFT
    saved, SHIFT = SHIFT, {k: v for k, v in SHIFT.items() if k != "se"}
    try:
        study = _study(tmp_path / "a", repeats=4)
    finally:
        SHIFT = saved
    assert report.verdict(report.trial_rows(study)) == (
        "No architecture beats the baseline significantly (paired t-test over common repeats from one trained "
        "baseline, Holm-corrected at 0.05)."
    )
    one = report.trial_rows(_study(tmp_path / "b", repeats=1))
    assert all(r["p_value"] is None and r["significant"] is None for r in one)
    assert "with one repeat per architecture there is no test" in report.verdict(one)


def test_block_site_map_cells_and_image(tmp_path: Path) -> None:
    study = _study(tmp_path, repeats=4)
    rows = report.trial_rows(study)
    cells = block_site_cells(rows)
    assert set(cells) == {(key, "12") for key in SHIFT}
    for key, shift in SHIFT.items():
        row = next(r for r in rows if r.get("site_12") == key)
        assert cells[key, "12"] == Cell(pytest.approx(sum(shift) / 4), 1, bool(row["significant"]))
    assert cells["se", "12"].significant and not cells["cbam", "12"].significant
    files, _ = report.write_all(study, tmp_path / "out", "gflops", "map50_95")
    assert tmp_path / "out" / "heatmap.png" in files
    assert (tmp_path / "out" / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_trial_run_in_wandb_holds_every_repeats_curve(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tracker = Tracker("wandb", tmp_path, "repeats", {"search": {}}, mode="offline")
    tracker.start(3, {})
    curves = [[0.1, 0.2], [0.15, 0.25], [0.12, 0.22]]
    tracker.finish("COMPLETE", {"metric": 0.3, REPEAT_CURVES: curves})
    assert "warning" not in capsys.readouterr().err
    (run,) = tmp_path.glob("wandb/offline-run-*")
    (table,) = run.rglob("repeat_curves_table_*.table.json")
    data = json.loads(table.read_text())["data"]  # rows of (step, line name, value)
    expected = [(f"repeat {k}", e + 1, v) for k, c in enumerate(curves) for e, v in enumerate(c)]
    assert sorted((row[1], row[0], row[2]) for row in data) == sorted(expected)


def test_paired_early_stopping_waits_for_a_second_repeat(tmp_path: Path) -> None:
    """A trial far below a cheaper one is not stopped on its first repeat's values, but on the paired evidence."""
    epochs: list[tuple[int, int]] = []

    def fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch, **kwargs) -> TrialResult:
        for epoch in range(2):
            epochs.append((cfg.seed, epoch))
            if on_epoch(epoch, {"map50_95": 0.1}):
                return TrialResult({"map50_95": 0.1}, 0.1, epoch + 1, 1.0, 1.0, True)
        return TrialResult({"map50_95": 0.1}, 0.1, 2, 1.0, 1.0, False)

    study = optuna.create_study(directions=["maximize", "minimize"])
    cheaper = study.ask()
    cheaper.set_user_attr(REPEAT_CURVES, [[0.5, 0.6], [0.5, 0.6]])
    study.tell(cheaper, (0.6, 0.0))
    evaluate = Evaluate("yolov8n.yaml", fit, None, 10, tmp_path, imgsz=64, early_stop=(0.02, 1, 0.95), repeats=2,
                        settings=TrainConfig())  # fmt: skip
    with pytest.raises(optuna.TrialPruned, match=r"stopped at epoch 1 of repeat 2: paired difference"):
        evaluate(study.ask(), {"21": ("se", {})}, [])
    assert epochs == [(0, 0), (0, 1), (1, 0)]  # repeat 1 ran in full; repeat 2 stopped after its first epoch


@pytest.mark.parametrize("draws", [1, 2])
def test_paired_early_stopping_counts_baseline_draws(tmp_path: Path, draws: int) -> None:
    """Three repeats steadily below a cheaper trial are evidence from one baseline; from two, repeats 1 and 3 share
    draw 0 and the rule, like the report's test, has two units and not enough to stop on."""
    weights = tmp_path / "baseline.pt"
    torch.save(apply("yolov8n.yaml", {}, nc=10).model.state_dict(), weights)
    score = {0: 0.40, 1: 0.45, 2: 0.41}  # differences -0.10, -0.05, -0.09 to the cheaper trial's 0.5

    def fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch, **kwargs) -> TrialResult:
        stop = on_epoch(0, {"map50_95": score[cfg.seed]})
        return TrialResult({"map50_95": score[cfg.seed]}, score[cfg.seed], 1, 1.0, 1.0, stop)

    study = optuna.create_study(directions=["maximize", "minimize"])
    cheaper = study.ask()
    cheaper.set_user_attr(REPEAT_CURVES, [[0.5], [0.5], [0.5]])
    study.tell(cheaper, (0.5, 0.0))
    evaluate = Evaluate("yolov8n.yaml", fit, [weights] * draws, 10, tmp_path, imgsz=64, early_stop=(0.02, 1, 0.95),
                        repeats=3, settings=TrainConfig())  # fmt: skip
    if draws == 1:
        with pytest.raises(optuna.TrialPruned, match="stopped at epoch 1 of repeat 3"):
            evaluate(study.ask(), {"21": ("se", {})}, [])
    else:
        assert evaluate(study.ask(), {"21": ("se", {})}, [])[0] == pytest.approx(sum(score.values()) / 3)
