"""What users browse after a search: the plotly pages of the report and optuna-dashboard on the study's journal."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest

from search import report, space, workers
from search.objective import Objective
from search.study import create, make_storage

SITES = ["12", "15", "18"]
CANDIDATES = {"cbam": {"reduction": [8, 16]}, "soca": {}}
METRIC_NAMES = ["map50_95", "gflops"]


def _evaluate(trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
    """A stand-in for training: the results and user attributes a real evaluation records."""
    gflops = 8.0 + len(arch) + sum(0.5 for k, _ in arch.values() if k == "soca")
    metric = round(0.3 + 0.01 * len(arch) - 0.004 * sum(k == "cbam" for k, _ in arch.values()), 5)
    trial.set_user_attr("gflops", gflops)
    trial.set_user_attr("metric", metric)
    return metric, gflops


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def study(run_dir: Path) -> optuna.Study:
    """A search's study in ``run_dir/study.journal``, written by the real objective and workers (claims, reuse)."""
    storage = make_storage(None, run_dir)
    study = create(storage, "digits", optuna.samplers.RandomSampler(seed=0), resume=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(METRIC_NAMES)
    study.enqueue_trial(space.baseline_params(list(CANDIDATES), 2))
    objective = Objective(evaluate=_evaluate, sites=SITES, candidates=CANDIDATES, n_trials=10, poll=0.1, settle=0.0)
    workers.run(study, objective, n_trials=10, poll=0.1)
    return study


def _completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


def _self_contained(page: str) -> bool:
    """plotly.js is inside the page and nothing is loaded from elsewhere (no network on clusters)."""
    return "plotly.js v" in page and re.search(r"<script[^>]*\bsrc=", page) is None


def test_pareto_page_names_every_architecture_and_marks_the_baseline(study: optuna.Study, tmp_path: Path) -> None:
    files, _ = report.write_all(study, tmp_path, "gflops", "map50_95")
    assert {"pareto.html", "hypervolume.html"} <= {p.name for p in files}
    fig = report.pareto_figure(study, report.trial_rows(study), "gflops", "map50_95")
    *optuna_traces, star = fig.data
    hover = {text for trace in optuna_traces for text in trace.text}
    assert hover == {f"trial {t.number}: {t.user_attrs['describe']}" for t in _completed(study)}
    baseline = study.trials[0]
    assert baseline.user_attrs["describe"] == "baseline"
    assert star.marker.symbol == "star" and (star.x[0], star.y[0]) == (baseline.values[1], baseline.values[0])
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("gflops", "map50_95")
    page = (tmp_path / "pareto.html").read_text()
    assert _self_contained(page)
    assert all(t.user_attrs["describe"] in page for t in study.best_trials)


def test_hypervolume_page_is_the_area_the_front_dominates(study: optuna.Study, tmp_path: Path) -> None:
    report.write_all(study, tmp_path, "gflops", "map50_95")
    assert _self_contained((tmp_path / "hypervolume.html").read_text())
    history = report.hypervolume_figure(study, "gflops", "map50_95").data[0]
    done = _completed(study)
    assert list(history.x) == [t.number for t in done]
    assert list(history.y) == sorted(history.y)  # never falls
    reference = 1.1 * max(t.values[1] for t in done)  # metric 0, 10% above the costliest trial
    area, below = 0.0, 0.0
    for metric, cost in sorted((t.values[0], t.values[1]) for t in study.best_trials):
        area += (reference - cost) * (metric - below)
        below = metric
    assert history.y[-1] == pytest.approx(area)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    with opener.open(url, timeout=5) as response:
        return json.load(response)


def test_optuna_dashboard_serves_the_study_its_trials_and_metric_names(
    study: optuna.Study, run_dir: Path, tmp_path: Path
) -> None:
    """``optuna-dashboard <run dir>/study.journal``, as a user types it, read through the dashboard's JSON API."""
    port = _free_port()
    log = tmp_path / "dashboard.log"
    command = [str(Path(sys.executable).parent / "optuna-dashboard"), str(run_dir / "study.journal"),
               "--host", "127.0.0.1", "--port", str(port), "--server", "wsgiref"]  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"optuna-dashboard exited: {log.read_text()}"
            try:
                summaries = _get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, f"optuna-dashboard did not answer: {log.read_text()}"
                time.sleep(0.2)
        (summary,) = summaries
        assert summary["study_name"] == "digits" and summary["directions"] == ["maximize", "minimize"]
        detail = _get(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert detail["objective_names"] == METRIC_NAMES
    served = {t["number"]: {a["key"]: a["value"] for a in t["user_attrs"]} for t in detail["trials"]}
    assert set(served) == {t.number for t in study.trials}
    for t in study.trials:
        assert set(served[t.number]) == set(t.user_attrs)
        assert served[t.number].get("describe") == t.user_attrs.get("describe")
    assert served[0]["describe"] == "baseline"
    assert {t["number"] for t in detail["best_trials"]} == {t.number for t in study.best_trials}
    study_attrs = [a["key"] for a in detail["user_attrs"]]  # the architecture claims: internal, and prefixed so
    assert study_attrs and all(key.startswith(workers.INTERNAL) for key in study_attrs)
