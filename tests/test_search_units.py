"""The search's own logic without training: space, early stopping, storage and study creation, reports."""

from __future__ import annotations

import csv
from pathlib import Path

import optuna
import pytest

from search import report, space
from search.early_stop import CURVE, REPEAT_CURVES, EarlyStop
from search.errors import UserError
from search.study import create, make_storage, redact

CANDIDATES = {"cbam": {"reduction": [8, 16]}, "soca": {}}


def _fake_objective(trial: optuna.Trial) -> tuple[float, float]:
    arch = space.sample(trial, ["12", "15", "18"], CANDIDATES, max_blocks=2)
    trial.set_user_attr("arch", space.to_json(arch))
    trial.set_user_attr("describe", space.describe(arch))
    gflops = 8.0 + len(arch) + sum(0.5 for k, _ in arch.values() if k == "soca")
    trial.set_user_attr("gflops", gflops)
    trial.set_user_attr("metric", 0.3 + 0.01 * len(arch))
    return 0.3 + 0.01 * len(arch), gflops


def test_sample_respects_max_blocks_and_samples_hparams() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(40):
        trial = study.ask()
        arch = space.sample(trial, ["12", "15", "18"], CANDIDATES, max_blocks=2)
        seen.append(arch)
        study.tell(trial, (0.0, 0.0))
        assert len(arch) <= 2
        for site, (key, hp) in arch.items():
            assert site in {"12", "15", "18"} and key in CANDIDATES
            assert set(hp) == set(CANDIDATES[key])
    assert any(len(a) == 2 for a in seen) and any(len(a) == 0 for a in seen)


def test_baseline_params_give_the_empty_architecture() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(space.baseline_params(list(CANDIDATES), 2))
    trial = study.ask()
    assert space.sample(trial, ["12", "15"], CANDIDATES, max_blocks=2) == {}


def test_arch_json_round_trip_and_description() -> None:
    arch = {"15": ("cbam", {"reduction": 8}), "9": ("soca", {})}
    assert space.from_json(space.to_json(arch)) == arch
    assert space.describe(arch) == "9:soca 15:cbam(reduction=8)"
    assert space.describe({}) == "baseline"


def test_grid_sampler_enumerates_every_architecture() -> None:
    grid = space.grid(["1", "2"], ["cbam", "soca"], 1)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.GridSampler(grid))
    archs = set()

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        archs.add(space.describe(space.sample(trial, ["1", "2"], CANDIDATES, 1, sample_hparams=False)))
        return 0.0, 0.0

    study.optimize(objective, n_trials=20)  # the grid stops the study once exhausted
    assert len(study.trials) == 6
    assert archs == {"baseline", "1:cbam", "1:soca", "2:cbam", "2:soca"}


def test_early_stop_compares_with_cheaper_completed_trials_only() -> None:
    refs = [(8.0, [[0.10, 0.20, 0.30]]), (12.0, [[0.50, 0.60, 0.70]])]
    rule = EarlyStop(cost=9.0, references=refs, margin=0.02, min_epoch=2)
    assert rule.threshold(2) == 0.20  # the 12-GFLOPs trial costs more: not a reference
    assert not rule.should_stop(1, [[0.0]])  # before min_epoch
    assert rule.should_stop(2, [[0.5, 0.17]])
    assert not rule.should_stop(2, [[0.5, 0.19]])
    assert not rule.should_stop(2, [[0.5, 0.5], [0.1, 0.0]])  # the raw rule judges the first repeat only
    assert EarlyStop(cost=7.0, references=refs).threshold(1) is None  # nothing cheaper


def test_early_stop_reads_completed_trials_of_a_study() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    trial.set_user_attr(CURVE, [0.4, 0.5])
    study.tell(trial, (0.5, 8.0))
    rule = EarlyStop.for_trial(study, cost=10.0, margin=0.05, min_epoch=1)
    assert rule.should_stop(1, [[0.3]]) and not rule.should_stop(1, [[0.36]])
    trial = study.ask()
    trial.set_user_attr(CURVE, [0.4])
    trial.set_user_attr(REPEAT_CURVES, [[0.4], [0.2]])
    study.tell(trial, (0.3, 9.0))
    assert EarlyStop.for_trial(study, 10.0, 0.0, 1).references[1] == (9.0, [[0.4], [0.2]])


def test_paired_early_stop_needs_evidence_not_one_noisy_value() -> None:
    """Stop only when the paired differences over the repeats so far are below -margin at the confidence."""
    refs = [(8.0, [[0.30, 0.40], [0.32, 0.42], [0.31, 0.41]])]
    rule = EarlyStop(cost=9.0, references=refs, margin=0.02, min_epoch=1, confidence=0.95)
    assert not rule.should_stop(1, [[0.10]])  # one repeat, far below: still no evidence
    worse = [[0.25, 0.35], [0.27, 0.36]]  # 0.05 and 0.05 below at epoch 1, at both repeats
    assert rule.should_stop(1, [worse[0], worse[1][:1]])
    noisy = [[0.25], [0.36]]  # -0.05 then +0.04: the bound is above -margin
    assert not rule.should_stop(1, noisy)
    barely = [[0.29], [0.31]]  # -0.01, -0.01: dominated, but by less than the margin
    assert not rule.should_stop(1, barely)
    assert not EarlyStop(cost=7.0, references=refs, confidence=0.95).should_stop(1, [worse[0], worse[1]])  # pricier


def test_storage_default_is_a_journal_in_the_run_dir(tmp_path: Path) -> None:
    storage = make_storage(None, tmp_path)
    create(storage, "s", optuna.samplers.RandomSampler(), resume=False).optimize(lambda t: (1.0, 2.0), n_trials=2)
    assert (tmp_path / "study.journal").is_file()
    with pytest.raises(UserError, match=r"search\.resume=true"):
        create(make_storage(None, tmp_path), "s", optuna.samplers.RandomSampler(), resume=False)
    resumed = create(make_storage(None, tmp_path), "s", optuna.samplers.RandomSampler(), resume=True)
    assert len(resumed.trials) == 2


def test_sqlite_url_storage(tmp_path: Path) -> None:
    storage = make_storage(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    create(storage, "s", optuna.samplers.RandomSampler(), resume=False).optimize(lambda t: (1.0, 2.0), n_trials=1)
    assert (tmp_path / "x.db").is_file()


def test_password_is_redacted() -> None:
    assert redact("postgresql+psycopg2://bob:s3cret@db:5432/x") == "postgresql+psycopg2://bob:***@db:5432/x"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"
    assert redact(None) is None


def test_reports_are_written_with_front_and_baseline(tmp_path: Path) -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=1))
    study.enqueue_trial(space.baseline_params(list(CANDIDATES), 2))
    study.optimize(_fake_objective, n_trials=12)
    files, summary = report.write_all(study, tmp_path, "gflops", "map50_95")
    names = {p.name for p in files}
    assert {"trials.csv", "pareto.csv", "pareto.png", "pareto.html"} <= names
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert len(rows) == 12 and rows[0]["architecture"] == "baseline"
    front = list(csv.DictReader((tmp_path / "pareto.csv").open()))
    assert {int(r["trial"]) for r in front} == {t.number for t in study.best_trials}
    assert "baseline" in summary
    assert (tmp_path / "pareto.png").stat().st_size > 10_000
    assert "<svg" in (tmp_path / "pareto.html").read_text()
