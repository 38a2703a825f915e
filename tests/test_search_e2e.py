"""The search end to end on CPU at tiny sizes: outputs, W&B offline runs, reuse, budgets, early stopping, resume."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
import yaml
from hydra import compose, initialize_config_module

import runners
from modules.gate import ResidualGate
from modules.yolo import AttnBlock
from runners import TrialResult
from search.app import SearchResult, run_search


def search(run_dir: Path, *overrides: str) -> SearchResult:
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose("config", overrides=["experiment=smoke", *overrides])
    return run_search(cfg, run_dir)


def rows(run_dir: Path, name: str = "trials.csv") -> list[dict[str, str]]:
    return list(csv.DictReader((run_dir / name).open()))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> SearchResult:
    """One smoke search, logged to W&B offline, shared by the tests that only read its outputs.

    A grid over site 15 or none, times sge or se: its four points follow the queued baseline, so the 5 trials try the
    baseline, 15:sge and 15:se (and reuse the baseline). SGE adds no counted FLOPs, so 15:sge costs what the baseline
    costs, and no smoke trial detects anything yet (mAP 0): the front is the baseline and 15:sge, a trained block
    trial; 15:se, dearer, is dominated.
    """
    overrides = ["attn=[sge,se]", "placement.layers=[15]", "search.max_blocks=1", "search/sampler=grid"]
    return search(tmp_path_factory.mktemp("smoke"), "logger=wandb", "search.n_trials=5", *overrides)


BONUS = {"se": 0.004, "cbam": 0.011, "eca": -0.003}  # what a block adds to the stand-in mAP, times 1 + its index mod 3


def stand_in_fit(model: torch.nn.Module, on_epoch: Any = None, **settings: Any) -> TrialResult:
    """Training replaced by a score of the model's blocks, so that trials differ in mAP and the front is not trivial."""
    value = 0.3 + sum(BONUS[m.key] * (1 + i % 3) for i, m in enumerate(model.model) if isinstance(m, AttnBlock))
    metrics = {"map50_95": value, "map50": value}
    if on_epoch is not None:
        on_epoch(0, metrics)
    return TrialResult(metrics, value, 1, 0.0, 1.0, False, history=[metrics])


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> SearchResult:
    """A real search (placement, cost, checkpoints, report) whose trainings are ``stand_in_fit``, from untrained
    baseline weights given as ``model.weights`` (so no baseline is trained or cached)."""
    from search.placement import apply

    run_dir = tmp_path_factory.mktemp("scored")
    torch.save(apply("yolov8n.yaml", {}, nc=10).model.state_dict(), run_dir / "baseline.pt")
    overrides = ["attn=[se,cbam,eca]", "placement.layers=[15,18,21]", "search/sampler=random", "search.n_trials=10"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runners, "fit_detection", stand_in_fit)
        return search(run_dir, f"model.weights={run_dir / 'baseline.pt'}", *overrides)


def expected_front(trials: list[dict[str, str]]) -> list[int]:
    """The front from trials.csv alone, cheapest first: the completed first evaluations (not reused) that no other
    dominates (its mAP at least as high and its GFLOPs at most as high, one of them strictly)."""
    points = {
        int(r["trial"]): (float(r["metric"]), float(r["gflops"]))
        for r in trials
        if r["state"] == "COMPLETE" and not r["reused_from"]
    }
    front = [
        n for n, (m, c) in points.items() if not any(o != (m, c) and o[0] >= m and o[1] <= c for o in points.values())
    ]
    return sorted(front, key=lambda n: (points[n][1], n))


def summary_rows(summary: str) -> list[dict[str, str]]:
    """The summary table's rows by column name (columns are two or more spaces apart; a blank line ends the table)."""
    header, *lines = summary.split("\n\n")[0].splitlines()
    names = re.split(r"\s{2,}", header.strip())
    return [dict(zip(names, re.split(r"\s{2,}", line.strip()), strict=True)) for line in lines]


def check_report(result: SearchResult) -> list[int]:
    """pareto.csv, best/ and the summary hold exactly the front computed from trials.csv, each printed Δ is the trial's
    mAP minus the baseline's there; returns the front."""
    trials = rows(result.run_dir)
    front = expected_front(trials)
    assert [int(r["trial"]) for r in rows(result.run_dir, "pareto.csv")] == front
    best = sorted(p.name for p in (result.run_dir / "best").iterdir())
    assert best == sorted(f"trial_{n:03d}{suffix}" for n in front for suffix in (".pt", ".yaml"))
    by_number = {int(r["trial"]): r for r in trials}
    assert by_number[0]["architecture"] == "baseline"
    baseline = float(by_number[0]["metric"])
    printed = summary_rows(result.summary)
    assert [int(r["trial"]) for r in printed] == front
    for r in printed:
        row = by_number[int(r["trial"])]
        assert r["architecture"] == row["architecture"]
        assert float(r["gflops"]) == pytest.approx(float(row["gflops"]), rel=1e-3)
        assert float(r["map50_95"]) == pytest.approx(float(row["metric"]), abs=6e-5)
        assert float(r["Δ"]) == pytest.approx(float(row["metric"]) - baseline, abs=6e-5), r
    return front


def test_smoke_search_writes_every_output(smoke: SearchResult) -> None:
    run = smoke.run_dir
    trials = rows(run)
    assert len(trials) == 5
    assert trials[0]["architecture"] == "baseline" and trials[0]["state"] == "COMPLETE"
    for r in trials:
        assert r["state"] == "COMPLETE", r
        assert float(r["gflops"]) > 0 and int(r["params"]) > 0 and float(r["latency_ms"]) > 0
    assert {r["architecture"] for r in trials} == {"baseline", "15:sge", "15:se"}
    architecture = {int(r["trial"]): r["architecture"] for r in trials}
    assert [architecture[n] for n in check_report(smoke)] == ["baseline", "15:sge"]
    assert (run / "pareto.png").stat().st_size > 10_000
    page = (run / "pareto.html").read_text()  # Optuna's plotly figure, plotly.js embedded, front architectures named
    assert "plotly.js v" in page and all(r["architecture"] in page for r in rows(run, "pareto.csv"))


def test_front_and_deltas_of_a_search_with_differing_scores(scored: SearchResult) -> None:
    completed = [r for r in rows(scored.run_dir) if r["state"] == "COMPLETE" and not r["reused_from"]]
    front = check_report(scored)
    assert 3 <= len(front) < len(completed)  # some trials are dominated
    assert len({r["Δ"] for r in summary_rows(scored.summary)}) == len(front)  # no two alike, the baseline's +0 included


def test_every_trial_starts_from_all_the_baseline_weights(smoke: SearchResult) -> None:
    for t in smoke.study.trials:
        transferred, total = t.user_attrs["transfer"]
        assert transferred == total > 0  # every baseline tensor reaches every trial


def test_a_block_trial_of_the_front_holds_its_trained_block(smoke: SearchResult) -> None:
    """Its checkpoint and YAML in best/ have the block at the layer after its site, on the data path (the default
    ``search.gate=false``), and the trained weights load into the model the exported YAML builds."""
    from ultralytics import YOLO

    (trial,) = [r for r in rows(smoke.run_dir, "pareto.csv") if r["architecture"] != "baseline"]
    sites = sorted(int(c.removeprefix("site_")) for c, key in trial.items() if c.startswith("site_") and key)
    expected = [(site + k + 1, trial[f"site_{site}"]) for k, site in enumerate(sites)]  # each block shifts the rest
    assert expected == [(16, "sge")]
    best = smoke.run_dir / "best" / f"trial_{int(trial['trial']):03d}"
    model = YOLO(str(best.with_suffix(".pt")))
    assert model.task == "detect"
    layers = list(model.model.model)
    assert [(i, m.key) for i, m in enumerate(layers) if isinstance(m, AttnBlock)] == expected
    assert not any(isinstance(m, ResidualGate) for m in model.model.modules())
    spec = yaml.safe_load(best.with_suffix(".yaml").read_text())
    table = spec["backbone"] + spec["head"]
    assert [(i, args[1]) for i, (_, _, name, args) in enumerate(table) if name == "AttnBlock"] == expected
    built = YOLO(str(best.with_suffix(".yaml"))).model
    assert [type(m) for m in built.model] == [type(m) for m in layers]
    built.load_state_dict(model.model.float().state_dict())  # strict: every tensor has its place, nothing is left


def test_wandb_offline_runs_hold_trials_and_the_summary_table(smoke: SearchResult) -> None:
    runs = sorted((smoke.run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 5 + 1  # one run per trial and the summary run
    tables = list((smoke.run_dir / "wandb").glob("offline-run-*/files/media/table/trials_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert len(table["data"]) == 5 and "architecture" in table["columns"]


def test_equal_architectures_are_trained_once(tmp_path: Path) -> None:
    """A grid over one site and one block visits the baseline twice: the second visit reuses the first's result."""
    result = search(tmp_path, "attn=[se]", "search/sampler=grid", "placement.layers=[15]", "search.max_blocks=1",
                    "search.n_trials=3")  # fmt: skip
    trials = result.study.trials
    keys = [t.user_attrs["arch_key"] for t in trials]
    assert len(set(keys)) == 2
    reused = [t for t in trials if "reused_from" in t.user_attrs]
    assert len(reused) == 1 and reused[0].values == trials[reused[0].user_attrs["reused_from"]].values


def test_budget_rejects_before_training(tmp_path: Path) -> None:
    from search.placement import apply

    baseline = sum(p.numel() for p in apply("yolov8n.yaml", {}, nc=10).model.parameters())
    result = search(tmp_path, f"search.max_params={baseline}", "search.n_trials=3")
    first, *others = result.study.trials
    assert first.state == optuna.trial.TrialState.COMPLETE  # the baseline is within its own budget
    for t in others:
        if t.user_attrs["describe"] == "baseline":
            continue
        assert t.state == optuna.trial.TrialState.PRUNED and "over budget: params" in t.user_attrs["reason"]
        assert "train_time_s" not in t.user_attrs


def test_early_stop_prunes_and_records_the_curve(tmp_path: Path) -> None:
    """With a negative margin every trial is 'worse' than the baseline at epoch 1, so it stops there."""
    result = search(tmp_path, "trainer.epochs=2", "search.n_trials=3", "search.early_stop.enabled=true",
                    "search.early_stop.margin=-1.0", "search.early_stop.min_epoch=1", "attn=[se]",
                    "placement.layers=[15,18]")  # fmt: skip
    baseline, *others = result.study.trials
    assert baseline.state == optuna.trial.TrialState.COMPLETE and len(baseline.user_attrs["curve"]) == 2
    for t in others:
        if "reused_from" in t.user_attrs or not t.user_attrs.get("arch_key"):
            continue
        assert t.state == optuna.trial.TrialState.PRUNED and "stopped at epoch 1" in t.user_attrs["reason"]
        assert len(t.user_attrs["curve"]) == 1


def test_resume_continues_the_study(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    first = search(tmp_path / "a", f"search.storage={journal}", "search.n_trials=2", "attn=[se]")
    assert len(first.study.trials) == 2
    with pytest.raises(ValueError, match=r"search\.resume=true"):
        search(tmp_path / "b", f"search.storage={journal}", "search.n_trials=3", "attn=[se]")
    second = search(tmp_path / "b", f"search.storage={journal}", "search.n_trials=3", "search.resume=true", "attn=[se]")
    assert len(second.study.trials) == 3
    assert len(rows(tmp_path / "b")) == 3


def test_classification_search_on_a_resnet(tmp_path: Path) -> None:
    result = search(tmp_path, "model=resnet18", "data=digits_cls", "placement=stages", "attn=[se]", "search.n_trials=3")
    assert result.study.metric_names == ["top1", "gflops"]
    done = [t for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done and all(0.0 <= t.values[0] <= 1.0 for t in done)
    assert all(t.user_attrs["transfer"][0] == t.user_attrs["transfer"][1] > 0 for t in done)


def weights_fit(model: torch.nn.Module, on_epoch: Any = None, **settings: Any) -> TrialResult:
    """Training replaced by a score of the weights the model starts from (its stem convolution, which no block
    changes), so a trial's repeats show which baseline each started from; trains nothing, a baseline included."""
    value = 0.5 + 0.01 * math.tanh(float(next(model.parameters()).detach().sum()))
    metrics = {"map50_95": value, "map50": value}
    return TrialResult(metrics, value, 1, 0.0, 1.0, False, history=[metrics])


def test_repeat_k_of_every_architecture_starts_from_baseline_draw_k(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``search.baselines=2`` the baseline is trained twice, at two seeds (so its stem differs), repeat k of every
    trial starts from draw k mod 2, and the verdict says the test ran over two baselines."""
    monkeypatch.setenv("ATTNSEARCH_CACHE", str(tmp_path / "cache"))  # its untrained baselines stay out of the others'
    monkeypatch.setattr(runners, "fit_detection", weights_fit)
    overrides = ["attn=[se]", "placement.layers=[15]", "search.max_blocks=1", "search/sampler=grid"]
    result = search(tmp_path / "run", *overrides, "search.repeats=4", "search.baselines=2", "search.n_trials=3",
                    "search.skip_inert_sites=false")  # fmt: skip
    trials = {r["architecture"]: r for r in rows(result.run_dir) if not r["reused_from"]}
    base, block = ([float(v) for v in trials[a]["repeat_metrics"].split()] for a in ("baseline", "15:se"))
    assert block == base  # common random numbers: each repeat from the same draw as the baseline's
    assert len(set(base)) == 2 and base[:2] * 2 == base  # draw k mod 2
    assert len(list((tmp_path / "cache" / "baselines").glob("*.pt"))) == 2
    assert "over common repeats from 2 trained baselines," in result.summary
