"""The search end to end on CPU at tiny sizes: outputs, W&B offline runs, reuse, budgets, early stopping, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_module

from search.app import SearchResult, run_search


def search(run_dir: Path, *overrides: str) -> SearchResult:
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose("config", overrides=["experiment=smoke", *overrides])
    return run_search(cfg, run_dir)


def rows(run_dir: Path, name: str = "trials.csv") -> list[dict[str, str]]:
    return list(csv.DictReader((run_dir / name).open()))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> SearchResult:
    """One smoke search, logged to W&B offline, shared by the tests that only read its outputs."""
    return search(tmp_path_factory.mktemp("smoke"), "logger=wandb", "search.n_trials=4")


def test_smoke_search_writes_every_output(smoke: SearchResult) -> None:
    run = smoke.run_dir
    trials = rows(run)
    assert len(trials) == 4
    assert trials[0]["architecture"] == "baseline" and trials[0]["state"] == "COMPLETE"
    for r in trials:
        assert r["state"] in {"COMPLETE", "PRUNED"}, r
        if r["state"] == "COMPLETE":
            assert float(r["gflops"]) > 0 and int(r["params"]) > 0 and float(r["latency_ms"]) > 0
    front = rows(run, "pareto.csv")
    assert {int(r["trial"]) for r in front} == {t.number for t in smoke.study.best_trials}
    for r in front:  # every front architecture: its YAML and an ultralytics checkpoint
        assert (run / "best" / f"trial_{int(r['trial']):03d}.yaml").is_file()
        assert (run / "best" / f"trial_{int(r['trial']):03d}.pt").is_file()
    assert (run / "pareto.png").stat().st_size > 10_000
    page = (run / "pareto.html").read_text()  # Optuna's plotly figure, plotly.js embedded, front architectures named
    assert "plotly.js v" in page and all(r["architecture"] in page for r in front)
    assert "baseline" in smoke.summary


def test_trials_start_from_baseline_weights_with_identity_blocks(smoke: SearchResult) -> None:
    for t in smoke.study.trials:
        transferred, total = t.user_attrs["transfer"]
        assert transferred == total > 0  # every baseline tensor reaches every trial


def test_best_architecture_loads_in_plain_ultralytics(smoke: SearchResult) -> None:
    from ultralytics import YOLO

    best = sorted((smoke.run_dir / "best").glob("*.pt"))[-1]
    model = YOLO(str(best))
    assert model.task == "detect"
    assert len(YOLO(str(best.with_suffix(".yaml"))).model.model) == len(model.model.model)


def test_wandb_offline_runs_hold_trials_and_the_summary_table(smoke: SearchResult) -> None:
    runs = sorted((smoke.run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 4 + 1  # one run per trial and the summary run
    tables = list((smoke.run_dir / "wandb").glob("offline-run-*/files/media/table/trials_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert len(table["data"]) == 4 and "architecture" in table["columns"]


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
                    "search.early_stop.margin=-1.0", "attn=[se]", "placement.layers=[15,18]")  # fmt: skip
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
