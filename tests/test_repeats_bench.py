"""The adaptive-repeat replay on tiny fidelity runs: trainings saved, and the same claims as every repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import fidelity, repeats
from benchmarks.stopping import Run

BASE = [0.70, 0.72, 0.71, 0.73]
EFFECT = {"baseline": 0.0, "good": 0.02, "flat": 0.0, "bad": -0.05}  # each ± 0.002 by seed (none for the baseline)


@pytest.fixture
def runs() -> dict[str, Run]:
    return {
        name: Run(1.0 + i, {s: [b + e + (name != "baseline") * 0.002 * (-1) ** s] for s, b in enumerate(BASE)})
        for i, (name, e) in enumerate(EFFECT.items())
    }


def test_fixed_repeats_train_everyone_alike(runs: dict[str, Run]) -> None:
    trainings, scores = repeats.replay(runs, list(runs), repeats.Policy.parse("fixed:2"))
    assert trainings == 8 and all(len(v) == 2 for v in scores.values())


def test_adaptive_repeats_stop_what_is_resolved_and_keep_the_claims(runs: dict[str, Run]) -> None:
    order = ["baseline", "bad", "flat", "good"]
    trainings, scores = repeats.replay(runs, order, repeats.Policy.parse("adaptive:2:4"))
    # over 3 comparisons: "bad" is resolved worse at 2 (95%), "good" better at 3 (Bonferroni), "flat" stays open
    assert {n: len(v) for n, v in scores.items()} == {"baseline": 4, "bad": 2, "flat": 4, "good": 3}
    assert trainings == 13
    assert repeats.significant(scores)[0] == {"good"}
    m = repeats.measure(runs, repeats.Policy.parse("adaptive:2:4"), [order], most=4)
    assert m.spent == [13 / 16] and m.same == 1
    assert repeats.significant(repeats.replay(runs, order, repeats.Policy.parse("fixed:4"))[1]) == ({"good"}, {"bad"})


def test_a_bad_policy_is_one_clear_line() -> None:
    with pytest.raises(SystemExit, match=r"--policies: 'adaptive:3:2'; valid: fixed:<R> or adaptive:<R>:<M>"):
        repeats.Policy.parse("adaptive:3:2")


@pytest.mark.parametrize(
    ("header", "draws", "answer"),
    [
        ("", "1 starting baseline", "good | bad"),
        ("# baseline_metric: 0.70000 0.71000\n", "2 starting baselines", "none | none"),
    ],
)
def test_the_command_replays_a_named_fidelity_csv(
    runs: dict[str, Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture,
    header: str, draws: str, answer: str,
) -> None:  # fmt: skip
    """From two baselines (seeds alternating between them) the four repeats are two units of the test: "good" (+0.022
    and +0.018 by draw) and "bad" are no longer significant with one degree of freedom."""
    monkeypatch.setattr(fidelity, "RESULTS", tmp_path)
    with fidelity.csv_path("trial", "detect", "x").open("w") as f:
        f.write(header + "arch,seed,metric,curve,gflops\n")
        f.writelines(f"{n},{s},{c[-1]},{c[-1]},{r.gflops}\n" for n, r in runs.items() for s, c in r.curves.items())
    repeats.main(["--name", "x", "--orders", "3", "--policies", "fixed:2", "fixed:4"])
    out = capsys.readouterr().out
    assert f"4 architectures of fidelity_trial_x.csv ({draws}), 3 orders" in out
    assert f"| fixed:4 | 100.0% [100.0%, 100.0%] | 3/3 | {answer} |" in out
