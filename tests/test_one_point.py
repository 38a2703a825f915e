"""One architecture is one point: a sampler that revisits an architecture adds a trial, never a second front point."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import optuna
import pytest

from search import report, space, workers
from search.objective import Objective
from search.study import create, make_storage

SITES = ["12", "15"]
CANDIDATES = {"se": {}, "cbam": {}}
BASELINE = space.baseline_params(list(CANDIDATES), 2)
SE_AT_12 = {**BASELINE, "slot0.site": "12", "slot0.block": "se"}
SE_AT_12_AGAIN = {**BASELINE, "slot1.site": "12", "slot1.block": "se"}  # other parameters, the same architecture
VISITS = [BASELINE, SE_AT_12, BASELINE, SE_AT_12_AGAIN, SE_AT_12, BASELINE]


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run directory and summary of a search proposing the baseline and 12:se three times each, then at random."""
    run_dir = tmp_path_factory.mktemp("revisits")
    study = create(make_storage(None, run_dir), "revisits", optuna.samplers.RandomSampler(seed=0), resume=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["map50_95", "gflops"])
    for params in VISITS:
        study.enqueue_trial(params)

    def evaluate(trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
        """A stand-in for training: one block adds 0.01 mAP and 1 GFLOP; the trial's YAML and weights are files."""
        metric, gflops = 0.3 + 0.01 * len(arch), 8.0 + len(arch)
        for attr, suffix in (("yaml", ".yaml"), ("weights", ".pt")):
            path = run_dir / "trials" / f"trial_{trial.number:03d}{suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_text(space.describe(arch))
            trial.set_user_attr(attr, str(path))
        trial.set_user_attr("gflops", gflops)
        trial.set_user_attr("metric", metric)
        return metric, gflops

    objective = Objective(evaluate=evaluate, sites=SITES, candidates=CANDIDATES, n_trials=10, poll=0.1, settle=0.0)
    workers.run(study, objective, n_trials=10, poll=0.1)
    _, summary = report.write_all(study, run_dir, "gflops", "map50_95")
    return run_dir, summary


def _study(run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="revisits", storage=make_storage(None, run_dir))


def _expected_front(study: optuna.Study) -> set[int]:
    """The first evaluation of each architecture not dominated by another architecture's, computed here."""
    first: dict[str, optuna.trial.FrozenTrial] = {}
    for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        if "reused_from" not in t.user_attrs:
            first.setdefault(t.user_attrs["arch_key"], t)

    def dominated(t: optuna.trial.FrozenTrial) -> bool:
        (m, c) = t.values
        return any(o.values[0] >= m and o.values[1] <= c and tuple(o.values) != (m, c) for o in first.values())

    return {t.number for t in first.values() if not dominated(t)}


def test_the_sampler_revisited_the_baseline_and_an_architecture(searched: tuple[Path, str]) -> None:
    study = _study(searched[0])
    reused = [t for t in study.trials if "reused_from" in t.user_attrs]
    assert {t.user_attrs["describe"] for t in reused} >= {"baseline", "12:se"}
    assert len({t.user_attrs["arch_key"] for t in study.trials}) < len(study.trials)
    assert len(study.best_trials) > len(_expected_front(study))  # Optuna keeps the copies' identical points


def test_each_front_architecture_is_one_trial_its_first_evaluation(searched: tuple[Path, str]) -> None:
    study = _study(searched[0])
    front = report.pareto_trials(study)
    assert {t.number for t in front} == _expected_front(study)
    keys = [t.user_attrs["arch_key"] for t in front]
    assert len(keys) == len(set(keys))
    assert not [t.number for t in front if "reused_from" in t.user_attrs]
    assert [t.values[1] for t in front] == sorted(t.values[1] for t in front)  # cheapest first


def test_pareto_csv_best_and_summary_hold_each_architecture_once(searched: tuple[Path, str]) -> None:
    run_dir, summary = searched
    study = _study(run_dir)
    expected = _expected_front(study)
    rows = list(csv.DictReader((run_dir / "pareto.csv").open()))
    assert sorted(int(r["trial"]) for r in rows) == sorted(expected)
    assert len({r["architecture"] for r in rows}) == len(rows)
    best = sorted(p.name for p in (run_dir / "best").iterdir())
    assert best == sorted(f"trial_{n:03d}{suffix}" for n in expected for suffix in (".pt", ".yaml"))
    lines = summary.split("\n\n")[0].splitlines()[1:]  # the front table, before the verdict
    assert sorted(int(line.split()[0]) for line in lines) == sorted(expected)
    assert len(list(csv.DictReader((run_dir / "trials.csv").open()))) == len(study.trials)  # still every trial
