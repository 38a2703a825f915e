"""Adaptive repeats (``search.max_repeats``): more trainings only where the comparison with the baseline is open."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
import torch
from scipy import stats as scipy_stats

from runners import TrainConfig, TrialResult
from search.evaluate import REPEATS, Evaluate
from search.intensify import Intensify

BASE = [0.300, 0.320, 0.310, 0.305, 0.315]


def _decided(values: list[float], baseline: list[float], confidence: float) -> bool:
    """The paired t interval of the differences excludes 0, computed here with scipy alone."""
    d = [a - b for a, b in zip(values, baseline, strict=False)]
    n, mean = len(d), sum(d) / len(d)
    half = scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * scipy_stats.tstd(d) / math.sqrt(n)
    return abs(mean) > half


def test_bonferroni_level_over_the_studys_comparisons() -> None:
    assert Intensify(2, 4, alpha=0.05, comparisons=7).confidence == pytest.approx(1 - 0.05 / 7)
    with pytest.raises(ValueError, match="max_repeats 1 below repeats 2"):
        Intensify(2, 1)


def test_repeats_from_shared_baseline_draws_are_judged_per_draw() -> None:
    """Four repeats, steady within each of two draws (+0.010 and +0.004): resolved better as four independent pairs,
    still open as two draws (the report's test, one degree of freedom), so the rule trains on."""
    values = [b + d for b, d in zip(BASE, [0.010, 0.004, 0.0101, 0.0041], strict=False)]
    assert not Intensify(repeats=2, max_repeats=5).more(values, BASE)
    assert Intensify(repeats=2, max_repeats=5, draws=2).more(values, BASE)


def test_an_open_comparison_gets_more_a_resolved_one_does_not() -> None:
    rule = Intensify(repeats=2, max_repeats=5, comparisons=3)
    clear = [b + 0.02 + 0.002 * (-1) ** i for i, b in enumerate(BASE)]  # +0.02 at every repeat: resolved at 3
    noise = [b + s for b, s in zip(BASE, [0.004, -0.006, 0.001, -0.002, 0.003], strict=True)]  # no effect
    assert rule.more(clear[:1], BASE)  # below search.repeats: always
    assert rule.more(clear[:2], BASE) is not _decided(clear[:2], BASE[:2], rule.confidence)
    assert not _decided(clear[:2], BASE[:2], rule.confidence)  # 1 degree of freedom: t is 38 at this level
    assert _decided(clear[:3], BASE[:3], rule.confidence) and not rule.more(clear[:3], BASE)
    worse = [b - 0.03 + 0.002 * (-1) ** i for i, b in enumerate(BASE)]
    assert not rule.more(worse[:3], BASE)  # resolved worse: no more either
    for n in (2, 3, 4):
        assert rule.more(noise[:n], BASE) and not _decided(noise[:n], BASE[:n], rule.confidence)
    assert not rule.more(noise, BASE)  # max_repeats reached
    assert not rule.more(noise[:2], None)  # no baseline to pair with: nothing beyond search.repeats
    assert not rule.more(noise[:3], BASE[:2])  # the baseline's repeats are all used


def test_clearly_dominated_by_a_cheaper_trial_gets_no_more() -> None:
    rule = Intensify(repeats=2, max_repeats=5, comparisons=3)
    values = [b - 0.001 * (-1) ** i for i, b in enumerate(BASE)][:3]  # open against the baseline
    cheaper = [b + 0.03 + 0.0004 * (-1) ** i for i, b in enumerate(BASE)]  # far better and no more cost
    assert rule.more(values, BASE)
    assert not rule.more(values, BASE, cheaper=[cheaper])
    assert rule.more(values, BASE, cheaper=[cheaper[:1]])  # one common repeat is no evidence


def _fit(shift: dict[int, float]):
    """A runner whose score at seed s is BASE[s] plus, with blocks, the shift ± 0.002 (alternating by seed)."""
    seeds: list[int] = []

    def fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch, **kwargs) -> TrialResult:
        blocks = sum(".attn." in n for n, _ in model.named_parameters()) > 0
        value = round(BASE[cfg.seed] + shift[blocks] + blocks * 0.002 * (-1) ** cfg.seed, 5)
        seeds.append(cfg.seed)
        on_epoch(0, {"map50_95": value})
        return TrialResult({"map50_95": value}, value, 1, 1.0, 1.0, False)

    return fit, seeds


@pytest.mark.parametrize(("shift", "expected"), [(0.02, [0, 1, 2]), (0.0, [0, 1, 2, 3, 4])])
def test_the_baseline_gets_every_repeat_and_an_architecture_only_what_it_needs(
    shift: float, expected: list[int], tmp_path: Path
) -> None:
    fit, seeds = _fit({False: 0.0, True: shift})
    rule = Intensify(repeats=2, max_repeats=5, comparisons=1)
    evaluate = Evaluate("yolov8n.yaml", fit, None, 10, tmp_path, imgsz=64, early_stop=None, repeats=2,
                        intensify=rule, settings=TrainConfig(seed=0))  # fmt: skip
    study = optuna.create_study(directions=["maximize", "minimize"])
    base = study.ask()
    base.set_user_attr("describe", "baseline")
    study.tell(base, evaluate(base, {}, []))
    assert seeds == [0, 1, 2, 3, 4] and study.trials[0].user_attrs[REPEATS] == BASE
    seeds.clear()
    metric, _ = evaluate(study.ask(), {"21": ("se", {})}, [])
    assert seeds == expected  # +0.02 at every seed is resolved after 3 repeats; no effect stays open up to 5
    assert metric == pytest.approx(sum(BASE[s] + shift + 0.002 * (-1) ** s for s in expected) / len(expected))


EFFECT = {"se": 0.02, "eca": 0.0, "cbam": -0.03}  # better; no effect (the cheapest block); worse


def _stand_in_fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch=None, **kwargs) -> TrialResult:
    """A training replaced by BASE at the seed, plus the block's effect ± 0.002 (alternating by seed)."""
    from modules.yolo import AttnBlock

    keys = [m.key for m in model.model if isinstance(m, AttnBlock)]
    value = BASE[cfg.seed] + sum(EFFECT[k] + 0.002 * (-1) ** cfg.seed for k in keys)
    metrics = {"map50_95": value, "map50": value}
    if on_epoch is not None:
        on_epoch(0, metrics)
    return TrialResult(metrics, value, 1, 0.0, 1.0, False, history=[metrics])


def test_a_search_with_max_repeats_spends_repeats_where_the_answer_is_open(tmp_path: Path) -> None:
    import csv

    from hydra import compose, initialize_config_module

    import runners
    from search.app import run_search
    from search.placement import apply

    torch.save(apply("yolov8n.yaml", {}, nc=10).model.state_dict(), tmp_path / "baseline.pt")
    overrides = [
        "experiment=smoke", f"model.weights={tmp_path / 'baseline.pt'}", "attn=[se,eca,cbam]", "placement.layers=[15]",
        "search.max_blocks=1", "search/sampler=grid", "search.n_trials=7", "search.repeats=2", "search.max_repeats=4",
    ]  # fmt: skip
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runners, "fit_detection", _stand_in_fit)
        run_search(cfg, tmp_path / "run")
    trials = list(csv.DictReader((tmp_path / "run" / "trials.csv").open()))
    repeats = {r["architecture"]: int(r["repeats"]) for r in trials if not r["reused_from"]}
    # the baseline gets all 4; +0.02 is resolved better at 3 (Bonferroni over 6 comparisons: t 10.9 at 2 degrees of
    # freedom), -0.03 resolved worse at 2 (95%: t 12.7 at 1), no effect stays open up to 4
    assert repeats == {"baseline": 4, "15:se": 3, "15:eca": 4, "15:cbam": 2}
    significant = {r["architecture"] for r in trials if r["significant"] == "True"}
    assert "15:se" in significant and "15:eca" not in significant


def test_limits_and_levels_at_their_edges() -> None:
    steady = [b + 0.02 + 0.0005 * (-1) ** i for i, b in enumerate(BASE)]  # +0.02, paired spread 0.0007
    assert Intensify(2, 2).max_repeats == 2  # as many as search.repeats: no adaptive repeat, but valid
    open_ = [b + 0.001 * (-1) ** i for i, b in enumerate(BASE)]  # no effect: open at every count
    assert Intensify(2, 5).more(open_[:3], BASE)
    assert not Intensify(2, 3).more(open_[:3], BASE)  # max_repeats reached, the baseline has more
    assert not Intensify(2, 5).more(open_[:2], BASE[:2])  # every baseline repeat paired already
    assert Intensify(1, 3).more(steady[:1], BASE)  # one pair is no test: a second repeat
    # resolved at 95% (t 12.7) but not at Bonferroni's level over 7 comparisons (t 89): a claim needs the latter
    assert _decided(steady[:2], BASE[:2], 0.95) and Intensify(2, 5, comparisons=7).more(steady[:2], BASE)
    assert not Intensify(2, 5, comparisons=1).more(steady[:2], BASE)
    # dominated by a cheaper trial at 1 - alpha: not at 95% with two pairs, yet at 50%
    values = [b + 0.001 * (-1) ** i for i, b in enumerate(BASE)][:2]
    cheaper = [b + 0.02 + 0.004 * (-1) ** i for i, b in enumerate(BASE)]
    assert Intensify(2, 5, alpha=0.05).more(values, BASE, [cheaper])
    assert not Intensify(2, 5, alpha=0.5).more(values, BASE, [cheaper])
