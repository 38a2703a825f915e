"""Repeats as units of work in the study's storage: claimed, stored, reused, waited for, helped with, released."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import optuna
import pytest

from search import repeats
from search.repeats import Repeats
from search.workers import PID


def study() -> optuna.Study:
    return optuna.create_study(directions=["maximize", "minimize"])


def trainer(calls: list, value: float = 0.5):
    """A stand-in training: repeat r scores value + r/100 over a 2-epoch curve; records (repeat, earlier)."""

    def train(repeat: int, earlier: list | None) -> tuple[float, list[float]]:
        calls.append((repeat, earlier))
        return value + repeat / 100, [value, value + repeat / 100]

    return train


def test_without_a_key_every_repeat_trains_here_in_order_then_while_more() -> None:
    calls: list = []
    units = Repeats(study(), None, fixed=2, most=4)
    units.run(trainer(calls), more=lambda values: len(values) < 3, on_result=lambda: None)
    assert [r for r, _ in calls] == [0, 1, 2]  # 2 fixed, then one while fewer than 3
    assert calls[1][1] == [[0.5, 0.5]]  # repeat 1 sees repeat 0's curve: the paired early stop's pairs
    assert units.ordered() == ([0.5, 0.51, 0.52], [[0.5, 0.5], [0.5, 0.51], [0.5, 0.52]]) and units.reused == []


def test_stored_repeats_are_reused_by_a_later_trial_of_the_architecture() -> None:
    s, calls = study(), []
    Repeats(s, "k", fixed=2, most=2, settle=0).run(trainer(calls), lambda v: True, lambda: None)
    assert repeats.read(s, "k", 1)["value"] == 0.51
    later, seen = Repeats(s, "k", fixed=3, most=3, settle=0), []
    later.run(trainer(calls), lambda v: True, lambda: seen.append(dict(later.values)))
    assert [r for r, _ in calls] == [0, 1, 2]  # the later trial trains only the repeat nobody had
    assert later.reused == [0, 1] and later.ordered()[0] == [0.5, 0.51, 0.52] and len(seen) == 3


def test_a_repeat_held_by_a_live_process_is_waited_for_and_not_trained_twice() -> None:
    s, calls = study(), []
    other = {"host": socket.gethostname(), "pid": os.getppid(), "token": "t", "at": time.time()}
    s.set_user_attr(repeats.slot_name("k", 1), other)  # another worker trains repeat 1
    threading.Timer(0.3, lambda: repeats.store(s, "k", 1, 0.9, [0.8, 0.9])).start()
    units = Repeats(s, "k", fixed=3, most=3, settle=0, poll=0.05)
    units.run(trainer(calls), lambda v: True, lambda: None)
    assert [r for r, _ in calls] == [0, 2]  # 1 was left pending while 2 trained, then taken from the slot
    assert calls[1][1] is None  # repeat 2 trained before 1 was done: no paired early stop out of order
    assert units.ordered()[0] == [0.5, 0.9, 0.52] and units.reused == [1]


def test_claims_of_dead_or_silent_processes_do_not_hold() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here, now = socket.gethostname(), time.time()
    assert repeats.holds({"host": here, "pid": os.getpid(), "at": 0}, timeout=1)  # alive, however old
    assert not repeats.holds({"host": here, "pid": dead.pid, "at": now}, timeout=100)
    assert repeats.holds({"host": "elsewhere", "pid": 1, "at": now - 5}, timeout=10)  # heartbeat recent enough
    assert not repeats.holds({"host": "elsewhere", "pid": 1, "at": now - 50}, timeout=10)
    assert repeats.holds({"value": 0.1}, timeout=0) and not repeats.holds(None, timeout=10)
    s, calls = study(), []
    s.set_user_attr(repeats.slot_name("k", 0), {"host": here, "pid": dead.pid, "token": "x", "at": now})
    Repeats(s, "k", fixed=1, most=1, settle=0).run(trainer(calls), lambda v: True, lambda: None)
    assert calls == [(0, [])]  # the dead worker's claim was taken over


def test_the_last_claim_written_holds() -> None:
    s = study()
    first, _ = repeats.claim(s, "k", 0, settle=0, timeout=10)
    mine, held = repeats.claim(s, "k", 0, settle=0, timeout=10)
    assert first is not None and mine is None and held == first  # this process's own live claim holds
    s.set_user_attr(repeats.slot_name("k", 0), None)
    assert repeats.claim(s, "k", 0, settle=0, timeout=10)[0] is not None


def test_a_stopped_or_failing_repeat_frees_its_slot() -> None:
    s = study()

    def stops(repeat: int, earlier: list | None) -> tuple[float, list[float]]:
        raise optuna.TrialPruned("stopped at epoch 2")

    with pytest.raises(optuna.TrialPruned):
        Repeats(s, "k", fixed=2, most=2, settle=0).run(stops, lambda v: True, lambda: None)
    assert repeats.read(s, "k", 0) is None  # free again: a later trial of it trains it


def test_a_claim_is_refreshed_while_its_repeat_trains() -> None:
    s = study()
    mine, _ = repeats.claim(s, "k", 1, settle=0, timeout=10)
    with repeats.holding(s, "k", 1, mine, interval=0.05):
        time.sleep(0.3)
    assert repeats.read(s, "k", 1)["at"] > mine["at"] and repeats.read(s, "k", 1)["token"] == mine["token"]


def test_an_idle_worker_helps_with_the_fixed_repeats_of_running_trials_but_repeat_0() -> None:
    s = study()
    running = s.ask()
    running.set_user_attr("arch_key", "k")
    running.set_user_attr(PID, -1)  # another worker's trial
    mine = s.ask()
    mine.set_user_attr("arch_key", "own")
    mine.set_user_attr(PID, os.getpid())  # this worker's own: not helped
    done: list = []
    train = lambda t, r: done.append((t.number, r)) or (0.7 + r, [0.7])  # noqa: E731
    assert repeats.help_one(s, 3, train, settle=0) and repeats.help_one(s, 3, train, settle=0)
    assert not repeats.help_one(s, 3, train, settle=0)  # repeats 1 and 2 are done; 0 is the owner's
    assert done == [(running.number, 1), (running.number, 2)] and repeats.read(s, "k", 2)["value"] == 2.7

    def fails(t: optuna.trial.FrozenTrial, r: int) -> tuple[float, list[float]]:
        raise RuntimeError("out of memory")

    other = s.ask()
    other.set_user_attr("arch_key", "k2")
    other.set_user_attr(PID, -1)
    assert repeats.help_one(s, 2, fails, settle=0)  # it tried: not raised, the slot is free for the owner
    assert repeats.read(s, "k2", 1) is None


def test_a_trial_reuses_the_repeats_a_killed_trial_of_its_architecture_left(tmp_path) -> None:
    import torch

    from runners import TrainConfig, TrialResult
    from search.evaluate import REPEATS, REUSED, Evaluate

    seeds: list[int] = []

    def fit(model: torch.nn.Module, cfg: TrainConfig, on_epoch, **kwargs) -> TrialResult:
        seeds.append(cfg.seed)
        on_epoch(0, {"map50_95": 0.6})
        return TrialResult({"map50_95": 0.6}, 0.6, 1, 1.0, 1.0, False)

    evaluate = Evaluate("yolov8n.yaml", fit, None, 10, tmp_path, imgsz=64, early_stop=None, repeats=2,
                        settings=TrainConfig(seed=0), settle=0)  # fmt: skip
    s = study()
    repeats.store(s, "k", 0, 0.5, [0.5])  # what the killed trial finished
    trial = s.ask()
    trial.set_user_attr("arch_key", "k")
    assert evaluate(trial, {"15": ("se", {})}, [])[0] == pytest.approx(0.55)
    assert seeds == [1]  # only repeat 1 trained, at its own seed
    frozen = s.trials[0]
    assert (
        frozen.user_attrs[REPEATS] == [0.5, 0.6] and frozen.user_attrs[REUSED] == [0] and "weights" in frozen.user_attrs
    )
    again = s.ask()
    again.set_user_attr("arch_key", "k")
    evaluate(again, {"15": ("se", {})}, [])
    assert seeds == [1] and "weights" not in s.trials[1].user_attrs  # nothing trained here: no weights to keep
