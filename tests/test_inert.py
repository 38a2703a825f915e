"""The site screen (``search.skip_inert_sites``): sites that feed only head levels where the baseline keeps no box."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
from hydra import compose, initialize_config_module

import runners
import search.app
from runners import TrainConfig, TrialResult
from search.inert import describe, inert_sites
from search.placement import apply, sites

NECK = sites("yolov8n.yaml", where="neck")  # 12, 15 feed every level; 16, 18 strides 16 and 32; 19, 21 stride 32


def _indices(found: list) -> list:
    return [s.index for s in found]


def test_sites_that_feed_only_silent_levels_are_inert() -> None:
    assert _indices(inert_sites(NECK, {8: 801, 16: 0, 32: 0})) == [16, 18, 19, 21]  # the default digits' baseline
    assert _indices(inert_sites(NECK, {8: 576, 16: 6, 32: 0})) == [19, 21]  # one level more detects: fewer go
    assert inert_sites(NECK, {8: 5, 16: 1, 32: 1}) == []


def test_no_evidence_or_nothing_left_screens_nothing() -> None:
    assert inert_sites(NECK, {8: 0, 16: 0, 32: 0}) == []  # an untrained baseline keeps no box anywhere
    p5 = [s for s in NECK if s.index in (19, 21)]
    assert inert_sites(p5, {8: 9, 16: 0, 32: 0}) == []  # every candidate inert: the search would have no site


def test_the_line_names_the_sites_the_evidence_and_the_way_back() -> None:
    line = describe(inert_sites(NECK, {8: 801, 16: 0, 32: 0}), {8: 801, 16: 0, 32: 0})
    assert line.startswith("site screen: skipping sites 16, 18, 19, 21")
    assert "stride 8: 801, stride 16: 0, stride 32: 0" in line and "search.skip_inert_sites=false" in line
    assert "no box at any head level" in describe([], {8: 0, 16: 0, 32: 0})


def _fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch=None, **kwargs) -> TrialResult:
    """A training replaced by a score that grows with the blocks placed."""
    from modules.yolo import AttnBlock

    value = 0.3 + 0.01 * sum(isinstance(m, AttnBlock) for m in model.model)
    metrics = {"map50_95": value, "map50": value}
    return TrialResult(metrics, value, 1, 0.0, 1.0, False, history=[metrics])


def _search(tmp_path: Path, levels, *extra: str):
    weights = tmp_path / "baseline.pt"
    if not weights.exists():
        torch.save(apply("yolov8n.yaml", {}, nc=10).model.state_dict(), weights)
    overrides = [
        "experiment=smoke", f"model.weights={weights}", "attn=[se]", "placement=neck", "search.max_blocks=1",
        "search/sampler=grid", "search.repeats=1", f"search.storage={tmp_path / 'study.journal'}", *extra,
    ]  # fmt: skip
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runners, "fit_detection", _fit)
        patch.setattr(search.app, "head_levels", levels)
        return search.app.run_search(cfg, tmp_path / "run")


def _sites_sampled(study) -> set[str]:
    return {t.params["slot0.site"] for t in study.trials}


def test_a_search_samples_only_the_sites_a_block_can_change_and_keeps_the_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    calls = []

    def levels(model, data, cfg):
        calls.append(cfg.imgsz)
        return {8: (40, 9), 16: (0, 0), 32: (0, 0)}

    result = _search(tmp_path, levels, "search.n_trials=5")  # the grid: none, 12 and 15; it stops when covered
    assert _sites_sampled(result.study) == {"none", "12", "15"}
    assert result.study.user_attrs[search.app.LEVELS_ATTR] == {"8": 9, "16": 0, "32": 0}
    assert "site screen: skipping sites 16, 18, 19, 21" in capsys.readouterr().err
    # a resume (or another worker) screens by the study's evidence: the baseline is not measured again
    resumed = _search(tmp_path, lambda *a: pytest.fail("measured twice"), "search.n_trials=5", "search.resume=true")
    assert _sites_sampled(resumed.study) == {"none", "12", "15"} and calls == [64]


def test_skip_inert_sites_false_searches_every_site(tmp_path: Path) -> None:
    result = _search(tmp_path, lambda *a: pytest.fail("screened"), "search.skip_inert_sites=false", "search.n_trials=8")
    assert _sites_sampled(result.study) == {"none", "12", "15", "16", "18", "19", "21"}


def test_a_head_the_count_cannot_read_keeps_every_site(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def unreadable(*args):
        raise ValueError("the head's output (1, 300, 6) is not one prediction per anchor of its levels")

    monkeypatch.setattr(search.app, "head_levels", unreadable)
    study = optuna.create_study(directions=["maximize", "minimize"])
    kept = search.app.screen_sites(study, "yolov8n.yaml", NECK, None, 10, Path("unused"), TrainConfig())
    assert kept == [str(s.index) for s in NECK] and search.app.LEVELS_ATTR not in study.user_attrs
    assert "site screen: not applied, every site kept (the head's output (1, 300, 6)" in capsys.readouterr().err
