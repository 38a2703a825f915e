"""The early-stopping replay on a tiny fidelity CSV: epochs saved, trials stopped, front and top-3 lost."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks.fidelity as fidelity
import benchmarks.stopping as stopping

# architecture -> (GFLOPs, curve at every seed): "late" dips after epoch 1 and ends best, "bad" stays low
CURVES = {
    "baseline": (1.0, [0.70, 0.71, 0.72]),
    "late": (1.0, [0.60, 0.70, 0.75]),
    "bad": (1.0, [0.60, 0.62, 0.64]),
    "dear": (2.0, [0.72, 0.73, 0.74]),
}


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, stopping.Run]:
    monkeypatch.setattr(fidelity, "RESULTS", tmp_path)
    archs = {name: {i: "se"} for i, name in enumerate(CURVES)}
    task = fidelity.Task("m.yaml", 2, archs, (), lambda *a: None, ("map50_95", "map50"), {})

    def train(blocks: dict, seed: int) -> dict:
        name = next(n for n, b in archs.items() if b == blocks)
        gflops, curve = CURVES[name]
        curve = [v + 0.001 * seed for v in curve]  # seeds move every architecture alike: paired differences are exact
        return {"seed": seed, "metric": curve[-1], "metric2": 0.0, "curve": " ".join(f"{v:.5f}" for v in curve),
                "epochs": 3, "images": 30, "train_s": 1.0, "gflops": gflops, "params": 1}  # fmt: skip

    header = {"command": "t", "settings": "s", "data": "d", "baseline_metric": "0.7"}
    fidelity.run(fidelity.csv_path("trial", "detect", "x"), header, task, [0, 1, 2], train)
    return stopping.load(fidelity.csv_path("trial", "detect", "x"))[0]


def test_the_raw_rule_at_epoch_1_stops_the_late_winner_and_loses_the_front(runs: dict[str, stopping.Run]) -> None:
    m = stopping.measure(runs, stopping.Rule.parse("raw:0.02", 3), orders=20)
    # "late" and "bad" are 0.1 below the baseline at epoch 1: both stop there, 2 of 12 epochs saved each
    assert set(m["stopped"]) == {2} and set(m["epochs"]) == {(12 - 4) / 12}
    assert set(m["top3"]) == {2}  # "late", the best, is lost
    assert max(m["hypervolume"]) < 1


def test_from_epoch_2_only_the_bad_one_stops(runs: dict[str, stopping.Run]) -> None:
    m = stopping.measure(runs, stopping.Rule.parse("raw:0.02:2", 3), orders=20)
    assert set(m["stopped"]) == {1} and set(m["epochs"]) == {11 / 12}
    assert set(m["top3"]) == {3} and set(m["hypervolume"]) == {1.0}


def test_the_paired_rule_needs_two_repeats_of_evidence(runs: dict[str, stopping.Run]) -> None:
    rule = stopping.Rule.parse("paired:0.95:0.02:2", 3)
    assert (rule.confidence, rule.margin, rule.min_epoch, rule.repeats) == (0.95, 0.02, 2, 3)
    m = stopping.measure(runs, rule, orders=20)
    # "bad" runs its first repeat in full (3 epochs), is stopped at epoch 2 of its second: 36 - 1 - 3 epochs
    assert set(m["stopped"]) == {1} and set(m["epochs"]) == {(36 - 4) / 36}
    assert set(m["hypervolume"]) == {1.0}


def test_no_rule_trains_everything(runs: dict[str, stopping.Run]) -> None:
    m = stopping.measure(runs, stopping.Rule("none", None, repeats=3), orders=5)
    assert set(m["epochs"]) == {1.0} and set(m["stopped"]) == {0} and set(m["top3"]) == {3}


@pytest.mark.parametrize("text", ["raw", "raw:x", "paired:0.95", "cosine:0.1", "raw:0.02:two"])
def test_a_bad_rule_is_one_line_naming_the_forms(text: str) -> None:
    with pytest.raises(SystemExit, match=r"--rules: .*valid: raw:<margin>\[:<min_epoch>\] or paired:"):
        stopping.Rule.parse(text, 3)


def test_cli_replays_any_results_csv(runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    moved = tmp_path / "table.csv"
    fidelity.csv_path("trial", "detect", "x").rename(moved)
    stopping.main(["--csv", str(moved), "--orders", "3", "--rules", "raw:0.02"])
    out = capsys.readouterr().out
    assert "4 architectures of table.csv, 3 orders per rule" in out and "| raw:0.02 | 1 |" in out
    with pytest.raises(SystemExit, match="holds no runs"):
        stopping.main(["--csv", str(tmp_path / "none.csv")])


def test_the_paired_rule_counts_one_unit_per_baseline_draw() -> None:
    """As a search with ``search.baselines=2`` does: repeats 1 and 3 share draw 0, so three repeats are two units."""
    runs = {
        "baseline": stopping.Run(1.0, {s: [0.50, 0.50] for s in range(3)}),
        "bad": stopping.Run(1.0, {0: [0.40, 0.40], 1: [0.45, 0.45], 2: [0.41, 0.41]}),  # -0.10, -0.05, -0.09
    }
    rule = stopping.Rule.parse("paired:0.95:0.02", 3)
    assert stopping.replay(runs, ["baseline", "bad"], rule) == (6 + 2 + 2 + 1, {"baseline"})  # stopped in repeat 3
    assert stopping.replay(runs, ["baseline", "bad"], rule, draws=2) == (12, {"baseline", "bad"})


def test_cli_reads_the_starting_baselines_from_the_csv(runs: dict, capsys: pytest.CaptureFixture) -> None:
    path = fidelity.csv_path("trial", "detect", "x")
    path.write_text(path.read_text().replace("# baseline_metric: 0.7\n", "# baseline_metric: 0.7 0.71\n"))
    stopping.main(["--name", "x", "--orders", "3", "--rules", "paired:0.95:0.02"])
    assert "4 architectures of fidelity_trial_x.csv, 2 starting baselines, 3 orders" in capsys.readouterr().out
