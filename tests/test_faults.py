"""A failed trial, a lost worker or a failing output never ends a study badly: every output is written, reasons kept."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search import report, space, workers
from search.heartbeat import LOST
from search.objective import Objective
from search.study import create, make_storage
from search.tracking import Tracker

SITES = ["12", "15"]
CANDIDATES = {"se": {}, "cbam": {"reduction": [8, 16]}}


def _mixed_study(run_dir: Path) -> optuna.Study:
    """A study with COMPLETE, FAIL (raised) and PRUNED (over budget) trials, written by the real objective."""
    study = create(make_storage(None, run_dir), "faults", optuna.samplers.RandomSampler(seed=1), resume=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["map50_95", "gflops"])
    study.enqueue_trial(space.baseline_params(list(CANDIDATES), 2))

    def evaluate(trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
        blocks = [key for key, _ in arch.values()]
        trial.set_user_attr("gflops", 1.0 + len(blocks))
        if blocks.count("cbam") == 2:
            raise optuna.TrialPruned("over budget: gflops 3 > search.max_gflops=2.5")
        if "se" in blocks and "cbam" in blocks:
            raise RuntimeError("loss is NaN")
        trial.set_user_attr("metric", 0.3 + 0.01 * len(blocks))
        return 0.3 + 0.01 * len(blocks), 1.0 + len(blocks)

    objective = Objective(evaluate=evaluate, sites=SITES, candidates=CANDIDATES, n_trials=12, poll=0.1, settle=0.0)
    workers.run(study, objective, n_trials=12, poll=0.1)
    return study


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    study = _mixed_study(tmp_path_factory.mktemp("mixed"))
    states = {t.state for t in study.trials}
    assert {TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED} <= states, states
    return study


def test_wandb_summary_takes_complete_fail_and_pruned_rows(mixed: optuna.Study, tmp_path: Path, capsys) -> None:
    """Through W&B's real offline writer: no warning, and the summary run holds every trial's row."""
    report.write_all(mixed, tmp_path, "gflops", "map50_95")
    rows = report.trial_rows(mixed)
    front = {t.number for t in report.pareto_trials(mixed)}
    Tracker("wandb", tmp_path, "faults", {"search": {}}, mode="offline").summary(
        rows, front, "gflops", "map50_95", tmp_path / "pareto.png"
    )
    assert "warning" not in capsys.readouterr().err
    (run,) = list((tmp_path / "wandb").glob("offline-run-*"))
    tables = list(run.rglob("trials_*.table.json"))
    assert tables, list(run.rglob("*"))
    table = json.loads(tables[0].read_text())
    states = [row[table["columns"].index("state")] for row in table["data"]]
    assert sorted(states) == sorted(r["state"] for r in rows)
    pages = list(run.rglob("pareto_front_*.html"))  # the interactive front, its error bars and rings with it
    assert len(pages) == 1 and pages[0].read_bytes() == (tmp_path / "pareto.html").read_bytes()
    failed = next(row for row in table["data"] if row[table["columns"].index("state")] == "FAIL")
    assert failed[table["columns"].index("metric")] is None
    assert failed[table["columns"].index("reason")] == "RuntimeError: loss is NaN"


def test_a_failing_output_is_one_warning_and_the_others_are_written(
    mixed: optuna.Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def broken(*args, **kwargs) -> None:
        raise OSError("disk full\nmore detail")

    monkeypatch.setattr(report, "plot_png", broken)
    files, _ = report.write_all(mixed, tmp_path, "gflops", "map50_95")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: pareto.png not written: OSError: disk full"]
    assert {p.name for p in files} >= {"trials.csv", "pareto.csv", "pareto.html", "hypervolume.html"}
    assert "pareto.png" not in {p.name for p in files} and not (tmp_path / "pareto.png").exists()
    assert (tmp_path / "trials.csv").read_text().count("\n") == 1 + len(report.trial_rows(mixed))
    Tracker("wandb", tmp_path, "faults", {"search": {}}, mode="offline").summary(
        report.trial_rows(mixed), set(), "gflops", "map50_95", tmp_path / "pareto.png"
    )  # the summary run goes without the missing image
    assert "warning" not in capsys.readouterr().err


def _running_trial(study: optuna.Study, worker: str, pid: int) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    trial.set_user_attr("worker", worker)
    trial.set_user_attr(workers.PID, pid)
    return study.trials[trial.number]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_restarted_worker_fails_its_own_dead_trial_at_once_and_no_other(tmp_path: Path) -> None:
    study = create(make_storage(None, tmp_path, heartbeat=30), "orphans", optuna.samplers.RandomSampler(), False)
    me = f"{socket.gethostname()}:0"
    dead = _running_trial(study, me, _dead_pid())
    alive = _running_trial(study, me, os.getpid())  # a live process of the same worker id: not ours to fail
    other = _running_trial(study, f"{socket.gethostname()}:1", _dead_pid())  # another worker: heartbeat grace
    start = time.monotonic()
    assert workers.fail_orphans(study, me) == [dead.number]
    assert time.monotonic() - start < 10
    states = {t.number: t.state for t in study.trials}
    assert states == {dead.number: TrialState.FAIL, alive.number: TrialState.RUNNING, other.number: TrialState.RUNNING}
    reason = study.trials[dead.number].user_attrs[LOST]
    assert me in reason and "gone" in reason
    assert dead.number not in {t.number for t in study.trials if workers._counted(t)}  # its slot is replaced


def test_a_trial_lost_by_heartbeat_says_so(tmp_path: Path) -> None:
    storage = make_storage(None, tmp_path, heartbeat=1)  # grace 4 s
    study = create(storage, "lost", optuna.samplers.RandomSampler(), resume=False)
    trial = _running_trial(study, "elsewhere:3", 1)
    storage.record_heartbeat(trial._trial_id)
    time.sleep(4.5)
    workers._fail_stale(study)
    lost = study.trials[trial.number]
    assert lost.state == TrialState.FAIL
    assert lost.user_attrs[LOST].startswith("no heartbeat since ") and "elsewhere:3" in lost.user_attrs[LOST]
    (row,) = report.trial_rows(study)
    assert row["reason"] == lost.user_attrs[LOST]


def test_a_trial_that_fails_before_training_is_counted_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sampling or opening the trial's logger raising must fail the trial with a reason: a trial failed without one
    is taken for a killed worker's and replaced, so the study would replace it for ever."""
    calls = []

    def broken_sample(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) > 3:
            raise SystemExit("the study replaced a failed trial instead of counting it")
        raise RuntimeError("the sampler broke")

    monkeypatch.setattr(space, "sample", broken_sample)
    study = create(make_storage(None, tmp_path), "early", optuna.samplers.RandomSampler(seed=0), resume=False)
    objective = Objective(evaluate=lambda *a: (0.0, 0.0), sites=SITES, candidates=CANDIDATES, n_trials=3, poll=0.1)
    workers.run(study, objective, n_trials=3, poll=0.1)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3
    assert {t.user_attrs[workers.REASON] for t in study.trials} == {"RuntimeError: the sampler broke"}
    assert {r["reason"] for r in report.trial_rows(study)} == {"RuntimeError: the sampler broke"}
