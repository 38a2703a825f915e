"""A resumed study keeps the settings its values were measured with: a resume that changes one is refused."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_module

from search import workers
from search.app import open_study
from search.errors import UserError
from search.study import make_storage

SITES = ["12", "15"]


def _open(run_dir: Path, *overrides: str) -> optuna.Study:
    """``open_study`` as a search starts it, on the journal in ``run_dir``, with ``search.resume=true``."""
    storage = f"search.storage={run_dir / 'study.journal'}"
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose("config", overrides=["experiment=smoke", storage, "search.resume=true", *overrides])
    return open_study(cfg, run_dir, SITES, list(cfg.attn), "map50_95")


def test_a_resume_with_other_settings_is_refused_naming_each_difference(tmp_path: Path) -> None:
    created = _open(tmp_path)
    assert created.metric_names == ["map50_95", "gflops"]
    with pytest.raises(UserError) as refused:
        _open(tmp_path, "search.objective=latency", "trainer.imgsz=96", "trainer.lr0=0.01")
    message = str(refused.value)
    assert "\n" not in message
    for difference in (
        "search.objective: stored 'gflops', new 'latency'",
        "search.imgsz: stored 64, new 96",
        "trainer.imgsz: stored 64, new 96",
        "trainer.lr0: stored 5e-05, new 0.01",
    ):
        assert difference in message, message
    assert "trainer.epochs" not in message  # only what differs
    study = optuna.load_study(study_name="attnsearch", storage=make_storage(None, tmp_path))
    assert study.metric_names == ["map50_95", "gflops"]  # not relabelled


@pytest.mark.parametrize(
    "overrides",
    [
        ("trainer.seed=1",),
        ("data.n_train=40",),
        ("model=yolo11n",),
        ("model.weights=base.pt",),
        ("search.baselines=2",),
    ],
    ids=["trainer", "data", "model", "weights", "baselines"],
)
def test_every_setting_that_changes_results_is_checked(tmp_path: Path, overrides: tuple[str, ...]) -> None:
    _open(tmp_path)
    with pytest.raises(UserError, match=r"^search\.resume: .*stored .*, new "):
        _open(tmp_path, *overrides)


def test_an_identical_resume_is_accepted(tmp_path: Path) -> None:
    first = _open(tmp_path)
    again = _open(tmp_path, "search.n_trials=20", "search.worker=3")  # how many, and who: results unchanged
    assert again.metric_names == first.metric_names == ["map50_95", "gflops"]
    assert len(again.trials) == 1  # the baseline, queued once
    assert any(key.startswith(workers.INTERNAL) for key in again.user_attrs)
