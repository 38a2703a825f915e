"""The fidelity benchmark's logic on tiny sizes: resumable result files and the report's numbers."""

from __future__ import annotations

import argparse
import json
import os
import pickle
from functools import partial
from pathlib import Path

import pytest
import spawned_training
from scipy import stats as scipy_stats

import benchmarks.fidelity as fidelity
from runners import TrainConfig


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> fidelity.Task:
    monkeypatch.setattr(fidelity, "RESULTS", tmp_path)
    archs = {"baseline": {}, "a": {1: "se"}, "b": {2: "se"}, "c": {3: "cbam"}}
    return fidelity.Task("m.yaml", 2, archs, (), lambda *a: None, ("map50_95", "map50"), {})


def _fake(scores: dict[str, float], gflops: dict[str, float], calls: list):
    def train(blocks: dict, seed: int) -> dict:
        name = next(n for n, b in ARCHS.items() if b == blocks)
        calls.append((name, seed))
        value = scores[name] + 0.001 * seed
        return {"seed": seed, "metric": value, "metric2": value, "curve": f"{value - 0.1:.5f} {value:.5f}",
                "epochs": 2, "images": 100, "train_s": 1.0, "gflops": gflops[name], "params": 1}  # fmt: skip

    return train


ARCHS = {"baseline": {}, "a": {1: "se"}, "b": {2: "se"}, "c": {3: "cbam"}}


def test_results_resume_where_they_stopped_and_refuse_other_settings(task: fidelity.Task, tmp_path: Path) -> None:
    calls: list = []
    train = _fake(dict.fromkeys(ARCHS, 0.5), dict.fromkeys(ARCHS, 1.0), calls)
    path, header = tmp_path / "r.csv", {"command": "x", "settings": "s1", "data": "d"}
    fidelity.run(path, header, task, [0], train)
    fidelity.run(path, header, task, [0, 1], train)  # seed 0 is done: only seed 1 is trained
    assert calls == [(n, 0) for n in ARCHS] + [(n, 1) for n in ARCHS]
    _, rows = fidelity.read_rows(path)
    assert len(rows) == 8 and rows[0]["curve"] == [0.4, 0.5]
    with pytest.raises(SystemExit, match="other settings"):
        fidelity.run(path, {**header, "settings": "s2"}, task, [2], train)


def test_a_trial_file_refuses_rows_from_another_starting_baseline(task: fidelity.Task, tmp_path: Path) -> None:
    """A baseline re-trained (another machine, other threads) is not bit-identical: rows of two baselines never mix."""
    calls: list = []
    train = _fake(dict.fromkeys(ARCHS, 0.5), dict.fromkeys(ARCHS, 1.0), calls)
    path, header = tmp_path / "t.csv", {"command": "x", "settings": "s", "data": "d", "baseline_metric": "0.73584"}
    fidelity.run(path, header, task, [0], train)
    with pytest.raises(SystemExit, match="other baseline_metric"):
        fidelity.run(path, {**header, "baseline_metric": "0.73733"}, task, [1], train)
    assert len(calls) == len(ARCHS)


def test_report_numbers(task: fidelity.Task, tmp_path: Path) -> None:
    gflops = {"baseline": 1.0, "a": 1.1, "b": 1.2, "c": 1.3}
    reference = {"baseline": 0.70, "a": 0.74, "b": 0.72, "c": 0.71}
    trial = {"baseline": 0.30, "a": 0.33, "b": 0.31, "c": 0.32}  # swaps b and c
    ref_header = {"command": "ref", "settings": "r", "data": "d"}
    trial_header = {"command": "trial", "settings": "t", "data": "d", "baseline_metric": "0.25"}
    fidelity.run(fidelity.csv_path("reference", "detect"), ref_header, task, [0, 1, 2], _fake(reference, gflops, []))
    fidelity.run(fidelity.csv_path("trial", "detect", "x"), trial_header, task, [0, 1, 2], _fake(trial, gflops, []))
    monkey = argparse.Namespace(task="detect", name=["x", "never-run"], reference="", repeats=1)
    fidelity.TASKS["detect"], saved = task, fidelity.TASKS["detect"]
    try:
        text = fidelity.report(monkey)
    finally:
        fidelity.TASKS["detect"] = saved
    main, paired = text.split("paired Δ to the baseline")
    lines = {line.split(" | ")[0].strip("| "): line for line in main.splitlines()}
    deltas = {line.split(" | ")[0].strip("| "): line for line in paired.splitlines()}
    # every seed moves every architecture alike in the fake: the paired Δ has no spread, and "never-run" none at all
    # (a Δ without spread: p 0, and Holm's 3 × 0 as well)
    assert deltas["a"].endswith("| +0.0400 ± 0.0000 (n=3) | 0.000 | 0.000 | +0.0300 ± 0.0000 (n=3) | — |")
    assert deltas["c"].endswith("| +0.0100 ± 0.0000 (n=3) | 0.000 | 0.000 | +0.0200 ± 0.0000 (n=3) | — |")
    assert "baseline" not in deltas and "Holm-adjusted over the 3 block architectures" in paired
    assert lines["a"].endswith("| 0.7410 ± 0.0010 (n=3) | 0.3310 ± 0.0010 (n=3) | — |")  # one column per protocol
    assert "protocol 'never-run': not run yet" in text
    assert lines["Kendall τ, trial vs reference"].endswith(f"| {4 / 6:.3f} | — |")
    assert "split-half Kendall τ (3 seeds) 1.000" in text
    # σ 0.001 within every architecture, pooled over 4 × 2 degrees of freedom
    assert "reference: 12 runs of 4 architectures; seed σ 0.0010 [0.0007, 0.0019] (pooled; χ², 95%)" in text
    # the architectures differ by 0.01-0.04 at a seed σ of 0.001: a perfect trial would rank them as this reference does
    assert "true mean would reach τ 1.000 [1.000, 1.000] (normal prior) or 1.000 [1.000, 1.000] (nonparametric" in text
    assert lines["top-3 overlap"].endswith("| 3/3 | — |")
    assert lines["largest trial σ over seeds"].endswith("| 0.0010 | — |")
    # every σ ties at 0.0010 (the first is named); its χ² interval over 2 degrees of freedom
    assert lines["its architecture and 95% interval (χ²)"].endswith("| baseline [0.0005, 0.0063] | — |")
    assert lines["trial cost / reference cost (training images)"].endswith("| 1.000 | — |")
    # the baseline's trials dipped to 0.20 (curve value − 0.1) from a starting baseline of 0.25
    assert lines["baseline trials: lowest epoch − starting baseline"].endswith("| -0.0500 (of 0.2500) | — |")


def test_a_reference_of_one_architecture_reports_its_seed_sd(task: fidelity.Task, tmp_path: Path) -> None:
    """A reference of the baseline alone (another schedule's pilot) has a seed σ to compare, nothing to rank."""
    ref_header = {"command": "ref", "settings": "r", "data": "d"}
    path = fidelity.csv_path("reference", "detect", "pilot")
    fidelity.run(path, ref_header, task, [0, 1, 2], _fake({"baseline": 0.7}, {"baseline": 1.0}, []), ["baseline"])
    args = argparse.Namespace(task="detect", name=["never-run"], reference="pilot", repeats=1)
    fidelity.TASKS["detect"], saved = task, fidelity.TASKS["detect"]
    try:
        text = fidelity.report(args)
    finally:
        fidelity.TASKS["detect"] = saved
    line = next(line for line in text.splitlines() if line.startswith("reference:"))
    assert line == "reference: 3 runs of 1 architecture; seed σ 0.0010 [0.0005, 0.0063] (pooled; χ², 95%)"
    assert "| baseline | 1.0000 | 0.7010 ± 0.0010 (n=3) | — |" in text


def test_paired_deltas_test_each_architecture_against_the_baseline_at_common_seeds() -> None:
    base, arch = [0.70, 0.72, 0.71, 0.69], [0.71, 0.75, 0.70, 0.73]
    summary = {"baseline": {"seeds": [0, 1, 2, 3], "values": base}, "a": {"seeds": [1, 2, 3, 4], "values": arch}}
    d = fidelity.paired_deltas(summary)["a"]  # seed 4 has no baseline: three pairs
    assert d["values"] == pytest.approx([-0.01, 0.04, 0.01])
    assert d["p"] == pytest.approx(scipy_stats.ttest_rel([0.71, 0.75, 0.70], [0.72, 0.71, 0.69]).pvalue)


def test_repeats_score_a_trial_as_the_mean_of_its_trainings(task: fidelity.Task, tmp_path: Path) -> None:
    """With search.repeats R, a search's trial at trainer.seed kR trains seeds kR … kR+R−1 and reports their mean."""
    path, header = tmp_path / "t.csv", {"command": "x", "settings": "s", "data": "d"}
    fidelity.run(path, header, task, [0, 1, 2, 3, 4], _fake(dict.fromkeys(ARCHS, 0.5), dict.fromkeys(ARCHS, 1.0), []))
    _, rows = fidelity.read_rows(path)
    single, paired = fidelity.summarise(rows)["a"], fidelity.summarise(rows, repeats=2)["a"]
    assert single["values"] == pytest.approx([0.5, 0.501, 0.502, 0.503, 0.504]) and single["images"] == 100
    # seeds (0, 1) and (2, 3); seed 4 has no partner yet and is left out
    assert paired["seeds"] == [0, 1] and paired["values"] == pytest.approx([0.5005, 0.5025])
    assert paired["std"] == pytest.approx(0.002 / 2**0.5) and paired["images"] == 200 and len(paired["curves"]) == 4
    assert fidelity.paired_deltas(fidelity.summarise(rows, repeats=2))["a"]["values"] == pytest.approx([0.0, 0.0])


def test_with_two_baselines_seed_s_starts_from_draw_s_mod_2_and_dips_are_per_draw(
    task: fidelity.Task, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``search.baselines=2``: seeds alternate between the draws as a search's repeats do, and the baseline
    architecture's dip is measured against the draw each seed started from."""
    started: list[tuple[int, Path]] = []
    monkeypatch.setattr(fidelity, "train_one", lambda task, b, seed, d, c, weights, *a: started.append((seed, weights)))
    draws = (tmp_path / "draw0.pt", tmp_path / "draw1.pt")
    setup = fidelity.Protocol(task, fidelity.TrainConfig(), tmp_path, draws, 1.0, False, {})
    for seed in range(4):
        setup.train({}, seed)
    assert started == [(0, draws[0]), (1, draws[1]), (2, draws[0]), (3, draws[1])]
    curves = {0: [0.70, 0.72], 1: [0.78, 0.80], 2: [0.69, 0.73], 3: [0.80, 0.81]}
    assert fidelity._dip(curves, {"baseline_metric": "0.71000 0.80000"}) == "-0.0200 (of 0.7100); -0.0200 (of 0.8000)"
    assert fidelity._dip(curves, {"baseline_metric": "0.71000"}) == "-0.0200 (of 0.7100)"  # one draw: all seeds


def test_dips_follow_each_seed_from_the_draw_it_started_from(
    task: fidelity.Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeds 0 and 2 start from a draw scoring 0.40, seeds 1 and 3 from one scoring 0.50: per epoch the mean ± std of
    their differences, and the lowest."""
    curves = {0: "0.39 0.41", 1: "0.47 0.50", 2: "0.37 0.40", 3: "0.49 0.52"}

    def train(blocks: dict, seed: int) -> dict:
        return {"seed": seed, "metric": 0.5, "metric2": 0.5, "curve": curves[seed], "epochs": 2, "images": 1,
                "train_s": 1.0, "gflops": 1.0, "params": 1}  # fmt: skip

    header = {"command": "x", "settings": "s", "data": "d", "baseline_metric": "0.40000 0.50000"}
    fidelity.run(fidelity.csv_path("trial", "detect", "two"), header, task, range(4), train, ["baseline"])
    monkeypatch.setitem(fidelity.TASKS, "detect", task)
    text = fidelity.dips(argparse.Namespace(task="detect", name=["two", "none"]))
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()}
    # epoch 1: -0.01, -0.03, -0.03, -0.01 (std √(4·0.0001/3)); epoch 2: +0.01, 0, 0, +0.02; lowest seed 2's -0.03
    assert lines["two"] == "| two | 0.40000 0.50000 | -0.0200 ± 0.0115 (n=4) | +0.0075 ± 0.0096 (n=4) | -0.0300 |"
    assert lines["none"] == "| none | no baseline trials | — | — | — |"


def test_draws_find_the_architecture_whose_delta_moves_with_the_starting_baseline(
    task: fidelity.Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two draws of one protocol: "a" gains 0.01 from one baseline and loses 0.01 from the other; "b" moves by 0.0004,
    near its seed σ; "c" equals the baseline at every seed, so it has no test and is left out of Holm's family."""
    noise = [0.0004, -0.0003, 0.0001, -0.0002]

    def train(shift: float):
        def one(blocks: dict, seed: int) -> dict:
            name = next(n for n, b in ARCHS.items() if b == blocks)
            jitter = (name in "ab") * noise[seed] * shift * 100  # the sign of the draw: the two differ
            value = 0.5 + 0.01 * seed + {"a": shift, "b": -0.002 + shift / 50}.get(name, 0.0) + jitter
            return {"seed": seed, "metric": value, "metric2": value, "curve": f"{value:.5f}", "epochs": 1,
                    "images": 1, "train_s": 1.0, "gflops": 1.0, "params": 1}  # fmt: skip

        return one

    for name, shift in (("up", 0.01), ("down", -0.01)):
        header = {"command": "x", "settings": "s", "data": "d", "baseline_metric": name}
        fidelity.run(fidelity.csv_path("trial", "detect", name), header, task, range(4), train(shift))
    monkeypatch.setitem(fidelity.TASKS, "detect", task)
    text = fidelity.draws(argparse.Namespace(task="detect", name=["up", "down"], repeats=1))
    rows = {line.split(" | ")[0].strip("| "): line.strip("|").split(" | ") for line in text.splitlines()}
    assert "starting baselines: up up, down down" in text and "baseline" not in rows
    seed_sd, between, p, adjusted = (float(v) for v in rows["a"][-4:])
    assert rows["a"][1:3] == ["+0.0100 ± 0.0003 (n=4)", "-0.0100 ± 0.0003 (n=4)"]
    assert seed_sd == pytest.approx(0.0003, abs=1e-4) and between == pytest.approx(0.02 / 2**0.5, abs=1e-4)
    assert p < 1e-4 and adjusted == pytest.approx(min(1.0, 2 * p), abs=1e-4)  # Holm over a and b
    assert next(line for line in text.splitlines() if line.startswith("| c |")).endswith("| — | — |")
    assert 0.05 < float(rows["b"][-2]) == float(rows["b"][-1])  # the larger p of a family of two stays as it is


def test_repeats_and_jobs_below_one_are_refused(capsys: pytest.CaptureFixture) -> None:
    for argv, message in ((["report", "--repeats", "0"], "--repeats: 0;"), (["trial", "--jobs", "0"], "--jobs: 0;")):
        with pytest.raises(SystemExit) as exit_info:
            fidelity.main(argv)
        assert exit_info.value.code == 2 and f"{message} valid: 1 or more" in capsys.readouterr().err


def test_jobs_train_in_other_processes_and_a_failed_run_loses_none_of_the_others(
    task: fidelity.Task, tmp_path: Path
) -> None:
    path, header = tmp_path / "r.csv", {"command": "x", "settings": "s", "data": "d"}
    with pytest.raises(RuntimeError, match=r"1 of 4 runs failed: b seed 0: ValueError\("):
        fidelity.run(path, header, task, [0], partial(spawned_training.train, fail=ARCHS["b"]), jobs=2)
    _, rows = fidelity.read_rows(path)
    assert sorted(r["arch"] for r in rows) == ["a", "baseline", "c"]  # written as they finished, in any order
    assert all(int(r["params"]) != os.getpid() for r in rows)


def test_settings_recorded_before_a_training_setting_existed_still_hold_at_its_default() -> None:
    """A CSV made before ``TrainConfig`` gained ``val`` resumes while ``val`` is at its default, and only then."""
    old = json.dumps({"trainer": {"lr0": 0.002}, "gate": False})
    same = json.dumps({"trainer": {"lr0": 0.002, "val": True}, "gate": False})
    assert fidelity.same_setting(old, same)
    assert not fidelity.same_setting(old, json.dumps({"trainer": {"lr0": 0.002, "val": False}, "gate": False}))
    assert not fidelity.same_setting(old, json.dumps({"trainer": {"lr0": 0.001, "val": True}, "gate": False}))
    assert not fidelity.same_setting(old, json.dumps({"trainer": {"lr0": 0.002}, "gate": False, "new_key": 1}))
    assert not fidelity.same_setting(old, json.dumps({"trainer": {}, "gate": False}))  # a setting lost
    assert fidelity.same_setting("d", "d") and not fidelity.same_setting("d", "e")
    assert not fidelity.same_setting(None, "d")


def test_a_named_reference_on_other_data_trains_the_named_architectures_into_its_own_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fidelity, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("ATTNSEARCH_CACHE", str(tmp_path / "cache"))
    calls: list = []

    def train_one(task, blocks, seed, data, cfg, weights):
        calls.append((blocks, seed, data, cfg.epochs, weights))
        return {"seed": seed, "metric": 0.5, "metric2": 0.6, "curve": "0.50000", "epochs": 1, "images": 4,
                "train_s": 1.0, "gflops": 1.0, "params": 1}  # fmt: skip

    monkeypatch.setattr(fidelity, "train_one", train_one)
    tiny = ["data.n_train=4", "data.n_val=2", "data.imgsz=32"]
    options = ["--reference", "ms", "--archs", "se@6", "baseline", "--seeds", "0"]
    fidelity.main(["reference", "data=digits_multiscale", *tiny, *options])  # options after: they take lists
    header, rows = fidelity.read_rows(tmp_path / "results" / "fidelity_reference_ms.csv")
    assert header["command"] == (
        "python -m benchmarks.fidelity reference --task detect data=digits_multiscale "
        + " ".join(tiny)
        + " --reference ms"
    )
    assert json.loads(header["data"])["sizes"] == [0.1, 0.9]
    assert [r["arch"] for r in rows] == ["baseline", "se@6"]  # in the task's order, nothing else
    assert [(c[0], c[1], c[3], c[4]) for c in calls] == [({}, 0, 30, None), ({6: "se"}, 0, 30, None)]  # from scratch
    assert not (tmp_path / "results" / "fidelity_reference.csv").exists()  # the committed reference is not touched


def test_a_trainer_override_of_the_reference_wins_over_its_schedule() -> None:
    """``trainer.epochs=100`` trains the reference for 100 epochs (it was silently put back to the task's 30); the
    schedule's other keys stay."""
    task = fidelity.TASKS["detect"]
    _, _, shipped = fidelity.reference_setup(task, ["data.n_train=4", "data.n_val=2"])
    _, _, longer = fidelity.reference_setup(task, ["data.n_train=4", "data.n_val=2", "trainer.epochs=100"])
    assert (shipped.epochs, longer.epochs) == (task.reference["epochs"], 100)
    assert longer.lr0 == shipped.lr0 == task.reference["lr0"]
    assert longer.warmup_epochs == shipped.warmup_epochs == task.reference["warmup_epochs"]


def test_archs_of_another_task_are_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        fidelity.main(["reference", "--archs", "coord@layer2"])
    assert exit_info.value.code == 2 and "coord@layer2 not of --task detect" in capsys.readouterr().err


def test_what_reference_and_trial_train_pickles_for_jobs() -> None:
    """``--jobs`` sends the training to spawned processes: the reference's and a protocol's must pickle."""
    detect = fidelity.TASKS["detect"]
    reference = partial(fidelity.train_one, detect, data=Path("d"), cfg=TrainConfig(), weights=None)
    trial = fidelity.Protocol(detect, TrainConfig(), Path("d"), (Path("w"),), 40.0, False, {}).train
    assert pickle.loads(pickle.dumps(reference)).keywords["weights"] is None
    assert pickle.loads(pickle.dumps(trial)).__self__.block_lr_mult == 40.0
