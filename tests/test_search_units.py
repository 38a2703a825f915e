"""The search's own logic without training: space, early stopping, storage and study creation, reports."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any, ClassVar

import optuna
import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

import search.app  # noqa: F401  imported now: it binds search.tracking.Tracker, which tests below patch
from search import pareto, report, space
from search.early_stop import CURVE, REPEAT_CURVES, EarlyStop
from search.errors import UserError
from search.study import create, make_sampler, make_storage, redact

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


def test_the_default_sampler_models_sites_and_blocks_without_a_warning_per_trial(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Block hyperparameters exist only with their block: the default (GP) leaves them to its independent sampler past
    its 10 random start-up trials, and says nothing of it in every trial's log."""
    with initialize_config_module("search.conf", version_base="1.3"):
        spec = compose("config", overrides=["search.seed=0"]).search.sampler
    sampler = make_sampler(spec, ["12", "15", "18"], list(CANDIDATES), 2)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level("WARNING", logger="optuna"):
            study.optimize(_fake_objective, n_trials=14)
    finally:
        optuna.logging.disable_propagation()
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 14
    assert any("cbam.reduction" in name for t in study.trials[10:] for name in t.params)  # drawn past the start-up
    assert not [r for r in caplog.records if "sampled independently" in r.getMessage()]


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


def test_sample_names_its_parameters_and_the_first_slot_on_a_site_wins() -> None:
    params = {
        "slot0.site": "15", "slot0.block": "cbam", "slot0.cbam.reduction": 8,
        "slot1.site": "15", "slot1.block": "cbam",  # the same site again: ignored, no hyperparameter sampled
        "slot2.site": "none", "slot2.block": "soca",  # an empty slot before a filled one
        "slot3.site": "12", "slot3.block": "cbam", "slot3.cbam.reduction": 16,
    }  # fmt: skip
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(params)
    trial = study.ask()
    assert space.sample(trial, ["12", "15", "18"], CANDIDATES, max_blocks=4) == {
        "15": ("cbam", {"reduction": 8}),
        "12": ("cbam", {"reduction": 16}),
    }
    assert trial.params == params
    choices = {name: d.choices for name, d in trial.distributions.items()}
    assert choices["slot0.site"] == ("none", "12", "15", "18")
    assert choices["slot3.block"] == ("cbam", "soca") and choices["slot3.cbam.reduction"] == (8, 16)
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(params)
    trial = study.ask()
    assert space.sample(trial, ["12", "15"], CANDIDATES, 4, sample_hparams=False) == {
        "15": ("cbam", {}),
        "12": ("cbam", {}),
    }
    assert not [name for name in trial.params if name.count(".") == 2]  # no hyperparameters: the defaults


def test_baseline_params_and_grid_exactly() -> None:
    assert space.baseline_params(["soca", "cbam"], 2) == {
        "slot0.site": "none",
        "slot0.block": "soca",
        "slot1.site": "none",
        "slot1.block": "soca",
    }
    assert space.grid(["12", "15"], ["cbam", "soca"], 2) == {
        "slot0.site": ["none", "12", "15"], "slot0.block": ["cbam", "soca"],
        "slot1.site": ["none", "12", "15"], "slot1.block": ["cbam", "soca"],
    }  # fmt: skip


def test_canonical_fills_defaults_and_resolves_aliases() -> None:
    canon = space.canonical({"15": ("senet", {}), "9": ("cbam", {"reduction": 8})})
    assert canon == {
        "15": ("se", {"reduction": 16, "min_channels": 4, "bias": False}),  # SE's paper defaults
        "9": ("cbam", {"reduction": 8, "kernel_size": 7, "min_channels": 4}),  # a given value wins over the default
    }
    assert space.canonical({"15": ("se", {"reduction": 16})}) == space.canonical({"15": ("senet", {})})


def test_describe_and_json_are_canonical() -> None:
    arch = {"100": ("se", {}), "9": ("cbam", {"reduction": 8, "kernel_size": 3}), "15": ("soca", {})}
    assert space.describe(arch) == "9:cbam(kernel_size=3,reduction=8) 15:soca 100:se"  # layers in numeric order
    resnet = {"layer2.1": ("se", {}), "layer1": ("cbam", {"reduction": 4})}
    assert space.describe(resnet) == "layer1:cbam(reduction=4) layer2.1:se"
    assert space.to_json(arch) == (
        '{"100": ["se", {}], "15": ["soca", {}], "9": ["cbam", {"kernel_size": 3, "reduction": 8}]}'
    )
    assert space.to_json({"1": ("se", {"path": Path("a/b")})}) == '{"1": ["se", {"path": "a/b"}]}'  # str() fallback
    assert space.from_json('{"9": ["cbam", {"reduction": 8}]}') == {"9": ("cbam", {"reduction": 8})}


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


def test_early_stop_boundaries() -> None:
    """Equal cost is a reference, a reference exactly ``epoch`` long counts, and only *more* than the margin stops."""
    refs = [(8.0, [[0.5, 0.5]]), (9.0, [[0.75]])]
    rule = EarlyStop(cost=9.0, references=refs, margin=0.25, min_epoch=2)
    assert rule.threshold(1) == 0.75 and rule.threshold(2) == 0.5  # the 9.0 reference ends at epoch 1
    assert rule.threshold(3) is None
    assert rule.should_stop(2, [[0.0, 0.125]])  # epoch == min_epoch: may stop
    assert not rule.should_stop(2, [[0.0, 0.25]])  # exactly the margin below: kept
    assert not rule.should_stop(1, [[0.0]])
    assert EarlyStop(cost=9.0, references=refs, margin=0.25).should_stop(1, [[0.25 - 1 / 64]])  # min_epoch 1


def test_paired_early_stop_boundaries() -> None:
    refs = [(9.0, [[0.5, 0.5], [0.5, 0.5]])]
    exact = EarlyStop(cost=9.0, references=refs, margin=0.25, confidence=0.95)
    assert not exact.should_stop(1, [[0.25], [0.25]])  # the bound is exactly -margin: kept
    assert exact.should_stop(1, [[0.125], [0.125]])
    assert not exact.should_stop(2, [[0.125, 0.125], [0.125]])  # at epoch 2 one pair only: no evidence
    spread = [[0.3], [0.1]]  # differences -0.2 and -0.4: mean -0.3, standard error 0.1
    assert EarlyStop(cost=9.0, references=refs, margin=0.02, confidence=0.5).should_stop(1, spread)  # bound -0.3
    assert not EarlyStop(cost=9.0, references=refs, margin=0.02, confidence=0.95).should_stop(1, spread)  # +0.33


def test_paired_early_stop_counts_one_unit_per_baseline_draw() -> None:
    """Repeats from one draw share its deviation: with fewer draws than repeats the bound is over draw means."""
    refs = [(9.0, [[0.5], [0.5], [0.5]])]
    steady = [[0.40], [0.45], [0.41]]  # -0.10, -0.05, -0.09: below -0.02 at 95% over three repeats
    assert EarlyStop(cost=9.0, references=refs, margin=0.02, confidence=0.95).should_stop(1, steady)
    # two draws: repeats 0 and 2 from draw 0 (mean -0.095), repeat 1 from draw 1 (-0.05); t(1) cannot bound it
    assert not EarlyStop(cost=9.0, references=refs, margin=0.02, confidence=0.95, draws=2).should_stop(1, steady)
    assert EarlyStop(cost=9.0, references=refs, margin=0.02, confidence=0.5, draws=2).should_stop(1, steady)
    # as many draws as repeats: every repeat is its own unit, as with one draw
    three = EarlyStop(cost=9.0, references=refs, margin=0.02, confidence=0.95, draws=3)
    assert three.should_stop(1, steady)
    assert not EarlyStop(cost=9.0, references=refs, confidence=0.95, draws=2).should_stop(1, steady[:1])


def test_early_stop_ignores_trials_without_curves_and_keeps_its_settings() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.tell(study.ask(), (0.9, 1.0))  # completed, but without a curve (e.g. a reused or imported trial)
    trial = study.ask()
    trial.set_user_attr(CURVE, [0.4])
    study.tell(trial, (0.4, 2.0))
    trial = study.ask()
    trial.set_user_attr(CURVE, [0.9])
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    rule = EarlyStop.for_trial(study, cost=3.0, margin=0.1, min_epoch=2, confidence=0.9)
    assert rule == EarlyStop(3.0, [(2.0, [[0.4]])], margin=0.1, min_epoch=2, confidence=0.9)


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


class _Tracker:
    """Records what ``write_front`` hands the W&B tracker."""

    made: ClassVar[list[tuple]] = []

    def __init__(self, *args: Any, **settings: Any) -> None:
        self.made.append((args, settings))

    def summary(self, *args: Any) -> None:
        self.made.append(args)


def test_write_front_reads_the_named_study_and_writes_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    journal = tmp_path / "shared" / "study.journal"
    study = create(make_storage(str(journal), tmp_path), "s", optuna.samplers.RandomSampler(1), resume=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["map50_95", "latency"])
    study.enqueue_trial(space.baseline_params(list(CANDIDATES), 2))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        metric, gflops = _fake_objective(trial)
        trial.set_user_attr("latency_ratio", gflops / 8)
        return metric, gflops / 8

    study.optimize(objective, n_trials=3)
    other = create(make_storage(str(journal), tmp_path), "t", optuna.samplers.RandomSampler(1), resume=False)
    other.optimize(_fake_objective, n_trials=1)  # another study in the same journal
    monkeypatch.setattr("search.tracking.Tracker", _Tracker)
    _Tracker.made.clear()
    cfg = OmegaConf.create(
        {"search": {"storage": str(journal), "study_name": "s", "objective": "gflops"},
         "logger": {"name": "wandb", "mode": "offline", "project": "p"}}
    )  # fmt: skip
    out = tmp_path / "out"
    files = pareto.write_front(cfg, out)
    assert files == [out / n for n in ("trials.csv", "pareto.csv", "pareto.png", "pareto.html", "hypervolume.html",
                                       "heatmap.png")]  # fmt: skip
    study = optuna.load_study(study_name="s", storage=make_storage(str(journal), tmp_path))
    rows, front = report.trial_rows(study), {t.number for t in report.pareto_trials(study)}
    config = {"search": {"storage": str(journal), "study_name": "s", "objective": "gflops"},
              "logger": {"name": "wandb", "mode": "offline", "project": "p"}}  # fmt: skip
    assert _Tracker.made == [
        (("wandb", out, "s", config), {"mode": "offline", "project": "p"}),
        (rows, front, "latency_ratio", "map50_95", out / "pareto.png"),  # the cost column of the latency objective
    ]
    summary = report.summary_table(rows, front, "latency_ratio", "map50_95")
    listing = "".join(f"  {p}\n" for p in files)
    assert capsys.readouterr().out == f"s: 3 trials\n{summary}\n\nWritten to {out}:\n{listing}"


def test_write_front_without_metric_names_uses_the_objective(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    journal = tmp_path / "study.journal"
    study = create(make_storage(str(journal), tmp_path), "s", optuna.samplers.RandomSampler(1), resume=False)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        metric, gflops = _fake_objective(trial)
        trial.set_user_attr("latency_ms", 2 * gflops)
        return metric, 2 * gflops

    study.optimize(objective, n_trials=2)
    monkeypatch.setattr("search.tracking.Tracker", _Tracker)
    _Tracker.made.clear()
    cfg = OmegaConf.create({"search": {"storage": str(journal), "study_name": "s", "objective": "latency_ms"},
                            "logger": {"name": "none"}})  # fmt: skip
    pareto.write_front(cfg, tmp_path / "out")
    assert _Tracker.made[1][2:4] == ("latency_ms", "metric")  # a cost that names its column itself keeps its name
    header = capsys.readouterr().out.splitlines()[1]  # the summary's, after "s: 2 trials"
    assert header.startswith("trial     metric") and header.endswith("latency_ms  architecture")
    head = (tmp_path / "out" / "trials.csv").read_text().splitlines()[0]
    assert head.startswith("trial,state,architecture,metric,")


def test_write_front_names_a_missing_storage_or_study(tmp_path: Path) -> None:
    cfg = OmegaConf.create({"search": {"storage": None, "study_name": "s", "objective": "gflops"},
                            "logger": {"name": "none"}})  # fmt: skip
    with pytest.raises(UserError) as err:
        pareto.write_front(cfg, tmp_path)
    assert str(err.value) == "search.storage: name the study's storage (a journal file path or a database URL)"
    journal = tmp_path / "study.journal"
    cfg.search.storage, cfg.search.study_name = str(journal), "other"
    make_storage(str(journal), tmp_path)
    with pytest.raises(UserError) as err:
        pareto.write_front(cfg, tmp_path)
    assert str(err.value) == f"search.study_name: no study 'other' in {journal}; studies there: none"
    create(make_storage(str(journal), tmp_path), "a", optuna.samplers.RandomSampler(), resume=False)
    create(make_storage(str(journal), tmp_path), "b", optuna.samplers.RandomSampler(), resume=False)
    with pytest.raises(UserError) as err:
        pareto.write_front(cfg, tmp_path)
    assert str(err.value).endswith("; studies there: a, b")
