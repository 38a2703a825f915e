"""The baseline trials start from: trained once on its own from-scratch schedule, cached by everything it depends on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runners import TrainConfig
from search import baseline
from search.errors import UserError

TRIAL = TrainConfig(epochs=3, lr0=0.0002, warmup_epochs=0.0)  # a fine-tuning recipe


@pytest.fixture
def fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[TrainConfig], Callable[..., Any]]:
    """The settings of every baseline training, which writes nothing but its history."""
    monkeypatch.setattr(baseline, "cache_root", lambda: tmp_path)
    calls: list[TrainConfig] = []

    def fit(model: Any, cfg: TrainConfig) -> SimpleNamespace:
        calls.append(cfg)
        return SimpleNamespace(history=[{"map50_95": 0.5}])

    return calls, fit


def test_the_baseline_trains_on_its_own_schedule_not_the_trials_recipe(fits, tmp_path: Path) -> None:
    calls, fit = fits
    schedule = baseline.baseline_settings(TRIAL, 30, {"lr0": 0.002, "warmup_epochs": 3.0})
    path = baseline.baseline_weights("yolov8n.yaml", 10, tmp_path / "data", None, fit, schedule, log=lambda _: None)
    assert path.is_file() and baseline.baseline_metrics(path) == {"map50_95": 0.5}
    (cfg,) = calls
    assert (cfg.epochs, cfg.lr0, cfg.warmup_epochs) == (30, 0.002, 3.0)
    assert replace(cfg, epochs=3, lr0=0.0002, warmup_epochs=0.0) == TRIAL  # everything else is the trials'


def test_a_cached_baseline_is_reused_and_another_schedule_trains_again(fits, tmp_path: Path) -> None:
    calls, fit = fits
    args = ("yolov8n.yaml", 10, tmp_path / "data", None, fit)
    first = baseline.baseline_weights(*args, baseline.baseline_settings(TRIAL, 30, {}), log=lambda _: None)
    again = baseline.baseline_weights(*args, baseline.baseline_settings(TRIAL, 30, {}), log=lambda _: None)
    other = baseline.baseline_weights(*args, baseline.baseline_settings(TRIAL, 30, {"lr0": 0.002}), log=lambda _: None)
    longer = baseline.baseline_weights(*args, baseline.baseline_settings(TRIAL, 31, {}), log=lambda _: None)
    assert first == again and len({first, other, longer}) == 3 and len(calls) == 3


@pytest.mark.parametrize("key", ["nonsense", "epochs"])
def test_a_schedule_key_that_is_no_baseline_setting_is_refused_by_name(key: str) -> None:
    with pytest.raises(UserError, match=f"search.baseline_train.{key}: not a training setting"):
        baseline.baseline_settings(TRIAL, 30, {key: 1})


def test_each_draw_is_its_own_baseline_trained_at_its_own_seed(fits, tmp_path: Path) -> None:
    calls, fit = fits
    schedule = baseline.baseline_settings(replace(TRIAL, seed=4), 30, {})
    draws = [
        baseline.baseline_weights("yolov8n.yaml", 10, tmp_path / "data", None, fit, schedule, lambda _: None, draw=k)
        for k in (0, 1, 2, 1)
    ]
    assert len(set(draws)) == 3 and draws[1] == draws[3]  # a draw trained once is reused
    assert [cfg.seed for cfg in calls] == [4, 5, 6]
    first, second = (baseline.torch.load(p) for p in draws[:2])
    assert any(not baseline.torch.equal(first[k], second[k]) for k in first)  # the initialisation follows the seed
