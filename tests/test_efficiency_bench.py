"""The sampler-efficiency replay on tiny synthetic tables: no training anywhere."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf

import benchmarks.efficiency as efficiency
import benchmarks.table as table
from benchmarks.fidelity import compose_config

PAIRS = table.Space(("1", "2", "3"), ("se", "cbam"), 2)  # 19 architectures, a grid of 64 parameter points
FLAT = table.Space(("1", "2", "3", "4"), ("se", "eca", "cbam"), 1)  # 13 architectures, a grid of 15
COST = {"se": 0.1, "eca": 0.01, "cbam": 0.2}
HEADER = {"command": "synthetic", "date": "2026-01-01", "settings": "s", "data": "d"}


def scored(metric: Callable[[dict[int, str]], float]) -> Callable[[dict[int, str], int], dict]:
    """A fake training: ``metric(blocks)`` plus a seed-dependent noise of ±0.005; GFLOPs 1 plus the blocks' COST."""

    def train(blocks: dict[int, str], seed: int) -> dict:
        value = metric(blocks) + random.Random(f"{sorted(blocks.items())}{seed}").uniform(-0.005, 0.005)
        gflops = 1 + sum(COST[b] for b in blocks.values())
        return {"seed": seed, "metric": value, "metric2": value, "curve": "0.1", "epochs": 1, "images": 1,
                "train_s": 0.0, "gflops": gflops, "params": 1, "latency_ms": 1.0}  # fmt: skip

    return train


def hashed(blocks: dict[int, str]) -> float:
    return random.Random(str(sorted(blocks.items()))).uniform(0.3, 0.4)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """results/table.csv with 3 repeats of every architecture of PAIRS and FLAT (scores ``hashed``)."""
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    monkeypatch.setattr(table, "spaces", lambda: {"pairs": PAIRS, "flat": FLAT})
    path = table.csv_path()
    table.build(path, HEADER, scored(hashed), table.architectures(), [0, 1, 2])
    return path


def _spec(name: str) -> OmegaConf:
    return efficiency.sampler_specs()[name]


def test_the_default_sampler_models_the_space_past_its_random_start(tables: Path) -> None:
    """The shipped default (conf/search/default.yaml) on the search's own parameters, beyond the trials it draws at
    random before it fits its model (10 for TPE and GP, a generation of 8 for NSGA-II)."""
    scores = efficiency.load(tables, PAIRS)
    spec = compose_config([]).search.sampler
    keys = efficiency.replay(spec, PAIRS, scores.draw(0, 1), 14, seed=0)
    assert len(keys) == 14 and keys[0] == table.key({}) and set(keys) <= set(scores.repeats)


def test_replays_meet_exactly_the_tables_architectures(tables: Path) -> None:
    scores = efficiency.load(tables, PAIRS)
    assert set(scores.repeats) == set(PAIRS.architectures()) and scores.common == [0, 1, 2]
    for name in ("random", "grid", "tpe_group"):
        keys = efficiency.replay(_spec(name), PAIRS, scores.draw(0, 1), 150, seed=0)
        assert keys[0] == table.key({})  # trial 0 is the baseline, as in a search
        assert set(keys) <= set(scores.repeats)
    assert set(efficiency.replay(_spec("grid"), PAIRS, scores.draw(0, 1), 64, seed=1)) == set(scores.repeats)
    partial = dict(list(scores.draw(0, 1).items())[:-1])
    with pytest.raises(AssertionError, match="does not hold"):
        efficiency.replay(_spec("grid"), PAIRS, partial, 64, seed=0)
    lines = tables.read_text().splitlines()
    tables.write_text("\n".join(line for line in lines if "3:cbam(" not in line) + "\n")  # 1 + 2 × 2 of them
    with pytest.raises(SystemExit, match="lacks 5 of the space's 19 architectures"):
        efficiency.load(tables, PAIRS)


def test_a_trial_scores_stored_repeats_shared_by_every_architecture(tables: Path) -> None:
    scores = efficiency.load(tables, PAIRS)
    drawn = set()
    for seed in range(10):
        values = scores.draw(seed, 1)
        index = [i for i in scores.common if values["{}"][0] == scores.repeats["{}"][i]]
        assert all(values[k][0] == r[index[0]] for k, r in scores.repeats.items())  # the same repeat for all
        drawn.add(index[0])
    assert len(drawn) > 1  # the seeds draw different repeats: the noise is kept
    everything, mean = scores.draw(3, 3), scores.mean()
    assert all(everything[k] == pytest.approx(mean[k]) for k in mean)


def test_exhaustive_hypervolume_is_the_area_the_front_dominates() -> None:
    points = {"a": (0.30, 1.0), "b": (0.34, 1.2), "c": (0.33, 1.5), "d": (0.40, 2.0), "e": (0.36, 1.9)}
    ref = efficiency.reference(points.values())
    assert ref == pytest.approx((0.30 - 0.01, 2.0 + 0.1))  # worst of each, 10% of the range beyond
    assert efficiency.front(points) == ["a", "b", "e", "d"]  # c is dominated by b
    area, below = 0.0, ref[0]
    for metric, cost in sorted(points[k] for k in "abed"):  # metric up: each a band to the reference cost
        area += (ref[1] - cost) * (metric - below)
        below = metric
    assert efficiency.hypervolume(points.values(), ref) == pytest.approx(area)
    fractions = efficiency.curve(["a", "a", "c", "b", "d", "e"], points, ref, area, 8)
    assert fractions[:2] == pytest.approx([(ref[1] - 1.0) * 0.01 / area] * 2)
    assert fractions[-3:] == pytest.approx([1.0] * 3)  # after e, and kept where the replay stopped


def test_trials_to_a_level_and_the_summary_on_hand_made_curves() -> None:
    curve = [0.5, 0.5, 0.91, 0.94, 0.96, 1.0]
    assert [efficiency.trials_to(curve, level) for level in (0.9, 0.95, 1.0)] == [3, 5, 6]
    assert efficiency.trials_to(curve, 1.01) == math.inf
    assert efficiency.quartiles([4, 1, 3, 2, math.inf]) == [2, 3, 4]

    def reaching(n: int) -> list[float]:  # 0.95 at trial n, 0.9 one trial before
        return [0.5] * (n - 2) + [0.9] + [0.95] * (10 - n + 1)

    curves = {"random": [reaching(n) for n in (6, 8, 10)], "good": [reaching(n) for n in (3, 4, 5)],
              "never": [[0.5] * 10] * 3}  # fmt: skip
    steps, budgets = (_rows(text) for text in efficiency.summary(curves, 20).split("\n\n"))
    assert steps["random"] == ["7 [5, 9]", "8 [6, 10]", "1.00×", "—"]
    # sooner at every seed; 3 seeds: p 1/4, Holm over the two samplers compared with random: 2 × 1/4
    assert steps["good"] == ["3 [2, 4]", "4 [3, 5]", "2.00×", "3/0, p 0.25 (0.5)"]
    assert steps["never"] == ["> 10 [> 10, > 10]", "> 10 [> 10, > 10]", "< 0.80×", "0/3, p 0.25 (0.5)"]
    assert efficiency.sign_test([[0.5] * 3, [0.96] * 3], [[0.5] * 3, [0.96] * 3]) == (0, 0, 1.0)  # ties dropped
    against_good = _rows(efficiency.summary(curves, 20, against="good").split("\n\n")[0])
    assert against_good["good"][2:] == ["1.00×", "—"]
    assert against_good["random"][2:] == ["0.50×", "0/3, p 0.25 (0.5)"]  # later than good on every seed
    assert budgets["sampler"] == ["HV at 5% (1 trials)", "HV at 10% (2 trials)", "HV at 25% (5 trials)",
                                  "HV at 50% (10 trials)"]  # fmt: skip
    assert budgets["random"] == ["0.500", "0.500", "0.500", "0.950"]
    assert budgets["good"] == ["0.500", "0.500", "0.950", "0.950"]


def _rows(markdown: str) -> dict[str, list[str]]:
    """A markdown table's rows by their first cell: the other cells."""
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.splitlines()]
    return {row[0]: row[1:] for row in cells if row[0] and not row[0].startswith("---")}


def test_a_front_of_the_baseline_alone_is_found_at_trial_1_by_every_sampler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    monkeypatch.setattr(table, "spaces", lambda: {"pairs": PAIRS})
    worse = lambda blocks: 0.5 - 0.02 * len(blocks) - 0.001 * len(str(blocks))  # noqa: E731
    table.build(table.csv_path(), HEADER, scored(worse), table.architectures(), [0, 1])
    scores = efficiency.load(table.csv_path(), PAIRS)
    points = scores.mean()
    ref = efficiency.reference(points.values())
    assert efficiency.front(points) == ["{}"]
    best = efficiency.hypervolume(points.values(), ref)
    for name in ("random", "nsga2", "tpe"):
        for seed in range(2):
            keys = efficiency.replay(_spec(name), PAIRS, scores.draw(seed, 1), 10, seed)
            assert efficiency.trials_to(efficiency.curve(keys, points, ref, best, 10), 1.0) == 1


def test_the_grid_covers_the_space_within_its_grid_where_random_may_not(tables: Path) -> None:
    scores = efficiency.load(tables, FLAT)
    points = scores.mean()
    ref = efficiency.reference(points.values())
    best = efficiency.hypervolume(points.values(), ref)
    steps = {}
    for name in ("grid", "random"):
        keys = [efficiency.replay(_spec(name), FLAT, scores.draw(s, 1), 16, s) for s in range(8)]
        steps[name] = [efficiency.trials_to(efficiency.curve(k, points, ref, best, 16), 1.0) for k in keys]
    assert max(steps["grid"]) <= 16  # the baseline, then the 15 grid points, which hold all 13 architectures
    assert max(steps["random"]) == math.inf  # with replacement, some seed misses a front architecture


class Refusing(optuna.samplers.RandomSampler):
    """A sampler that cannot run this kind of study (as GPSampler before Optuna 4.4 on two objectives)."""

    def sample_independent(self, *args: object, **kwargs: object) -> object:
        raise NotImplementedError("not for this study")


def test_cli_prints_the_tables_writes_the_plot_and_skips_a_sampler_that_cannot_run(
    tables: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    specs = {**efficiency.sampler_specs(), "refusing": OmegaConf.create({"_target_": f"{__name__}.Refusing"})}
    monkeypatch.setattr(efficiency, "sampler_specs", lambda: specs)
    out = tables.parent / "plots" / "eff.png"
    efficiency.main(["--space", "flat", "--seeds", "3", "--samplers", "random", "grid", "refusing", "--out", str(out)])
    captured = capsys.readouterr()
    assert "note: sampler refusing skipped: NotImplementedError: not for this study" in captured.err
    steps = _rows(captured.out.split("\n\n")[1])
    assert steps.keys() == {"sampler", "random", "grid"} and steps["random"][2] == "1.00×"
    assert "space flat: 13 architectures" in captured.out and out.stat().st_size > 0
    with pytest.raises(SystemExit):
        efficiency.main(["--space", "flat", "--samplers", "bogus"])
    with pytest.raises(SystemExit, match="--repeats 4"):
        efficiency.main(["--space", "flat", "--repeats", "4"])
    with pytest.raises(SystemExit) as refused:  # the sampler compared with must be one that runs
        efficiency.main(["--space", "flat", "--samplers", "grid", "--against", "random"])
    assert refused.value.code == 2
    assert "--against 'random': valid: one of the samplers run (grid)" in capsys.readouterr().err


def test_a_screened_space_is_judged_by_the_whole_spaces_front(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Blocks at sites 3 and 4 only cost (as at inert sites): searching sites 1 and 2 alone loses nothing of the
    front and covers it within the smaller grid."""
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    monkeypatch.setattr(table, "spaces", lambda: {"flat": FLAT})
    table.build(table.csv_path(), HEADER, scored(lambda b: 0.35 + sum(0.02 if s <= 2 else -0.02 for s in b)),
                table.architectures(), [0, 1, 2])  # fmt: skip
    scores = efficiency.load(table.csv_path(), FLAT)
    points = scores.mean()
    ref = efficiency.reference(points.values())
    best = efficiency.hypervolume(points.values(), ref)
    screened = table.Space(("1", "2"), FLAT.blocks, 1)
    keys = efficiency.replay(_spec("grid"), screened, scores.draw(0, 1), 16, 0)
    # the baseline, then the 9 grid points of sites none, 1 and 2 (x 3 blocks), against 15 for all four sites
    assert efficiency.trials_to(efficiency.curve(keys, points, ref, best, 16), 1.0) <= 10
    efficiency.main(["--space", "flat", "--sites", "1", "2", "--seeds", "2", "--samplers", "grid", "random",
                     "--against", "grid@all", "--out", str(tmp_path / "e.png")])  # fmt: skip
    out = capsys.readouterr().out
    assert "searched: sites 1, 2 only (--sites), against the whole space's front" in out
    steps = _rows(out.split("\n\n")[1])
    assert steps.keys() == {"sampler", "grid", "grid@all", "random", "random@all"} and steps["grid@all"][2] == "1.00×"
    with pytest.raises(SystemExit) as refused:
        efficiency.main(["--space", "flat", "--sites", "1", "9"])
    assert refused.value.code == 2 and "valid: some of 1, 2, 3, 4" in capsys.readouterr().err
