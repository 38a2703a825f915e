"""Repeats as units of work: claimed, stored and reused through the study's storage, so that several workers train
the repeats of one architecture at the same time, and a repeat once trained is never trained again.

Repeat r of the architecture with key k (``arch_key``: equal scope and blocks, equal results) has one slot, a study
user attribute ``_attnsearch.repeat.<k>.<r>``:

- free (absent or null);
- claimed, ``{"host", "pid", "token", "at"}``: a process is training it;
- done, the claim plus ``"value"`` and ``"curve"``: its result, reused by any later trial of k, on any worker and in
  any resumed run (a trial killed after two of three repeats leaves two for the trial that replaces it).

A slot is claimed like an architecture (``workers.claim``): written, left to settle while other trials run, read
back; the last writer trains. While it trains, its claim is refreshed every ``search.heartbeat`` seconds; a claim
holds while its process lives (same host) or, from another host, until 4 heartbeats are missed (as a running trial);
after that the trial waiting for it trains the repeat itself.

A trial (``Repeats.run``) trains or reuses its repeats in order; one that another worker holds is left pending and
waited for once the trial's own fixed repeats are done. Idle workers (``help``: at the end of a study, when every
trial slot is taken) train the free fixed repeats of other workers' running trials, repeat 0 excepted (its curves are
the trial's logged run and early stopping's reference).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.workers import INTERNAL, PID, alive

SLOT = f"{INTERNAL}repeat."
# train(repeat, earlier) -> (value, curve): ``earlier`` are the curves of repeats 0..repeat-1 when all are done (what a
# paired early stop compares), else None (no stopping); an early stop raises optuna.TrialPruned
Train = Callable[[int, list[list[float]] | None], tuple[float, list[float]]]


def slot_name(key: str, repeat: int) -> str:
    """The study user attribute of repeat ``repeat`` of architecture ``key``."""
    return f"{SLOT}{key}.{repeat}"


def read(study: optuna.Study, key: str, repeat: int) -> dict[str, Any] | None:
    """The slot as stored now (None: free)."""
    return study.user_attrs.get(slot_name(key, repeat))


def holds(slot: dict[str, Any] | None, timeout: float, now: float | None = None) -> bool:
    """Whether ``slot`` is done or claimed by a process that still trains it."""
    if not slot:
        return False
    if "value" in slot:
        return True
    if slot.get("host") == socket.gethostname():
        return alive(int(slot.get("pid", -1)))
    return (now or time.time()) - float(slot.get("at", 0)) < timeout


def claim(
    study: optuna.Study, key: str, repeat: int, settle: float, timeout: float
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Take repeat ``repeat`` of ``key``: (the caller's claim, None) when it now holds it and trains it, else (None,
    the slot that stops it): done (reuse its ``value``) or claimed by a process that still trains it."""
    name = slot_name(key, repeat)
    current = read(study, key, repeat)
    if holds(current, timeout):
        return None, current
    mine = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex, "at": time.time()}
    study.set_user_attr(name, mine)
    if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # racing claims settle; the last one holds
        time.sleep(settle)
    now = read(study, key, repeat)
    return (mine, None) if now is not None and now.get("token") == mine["token"] else (None, now)


@contextlib.contextmanager
def holding(study: optuna.Study, key: str, repeat: int, mine: dict[str, Any], interval: float) -> Iterator[None]:
    """Refresh the claim ``mine`` every ``interval`` seconds while the caller trains (a heartbeat: a claim from another
    host holds for ``timeout`` after its last one), until it ends or another process has taken the slot."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            slot = read(study, key, repeat)
            if not slot or slot.get("token") != mine["token"]:
                return
            study.set_user_attr(slot_name(key, repeat), {**mine, "at": time.time()})

    thread = threading.Thread(target=beat, daemon=True, name=f"repeat-{repeat}-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def store(study: optuna.Study, key: str, repeat: int, value: float, curve: list[float]) -> None:
    """Record a trained repeat's result in its slot."""
    slot = {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time(), "value": value, "curve": curve}
    study.set_user_attr(slot_name(key, repeat), slot)


def release(study: optuna.Study, key: str, repeat: int) -> None:
    """Free a slot whose training failed, so that its trial trains it."""
    study.set_user_attr(slot_name(key, repeat), None)


@dataclass
class Repeats:
    """The repeats of one trial's architecture.

    Args:
        study: the study whose storage holds the slots.
        key: the architecture key; None keeps no slots (every repeat trained here, as without a study).
        fixed: repeats every architecture gets (the ones other workers may help with).
        most: repeats it may get (``search.max_repeats``); beyond ``fixed`` only while ``more(values)`` says so.
        settle, poll: seconds a claim settles, and between looks at a pending repeat.
        heartbeat: seconds between refreshes of a claim while its repeat trains; a claim from another host holds
            for 4 of them after its last (``search.heartbeat``, as a running trial's).
    """

    study: optuna.Study
    key: str | None
    fixed: int
    most: int
    settle: float = 1.0
    poll: float = 5.0
    heartbeat: float = 30.0
    values: dict[int, float] = field(default_factory=dict)
    curves: dict[int, list[float]] = field(default_factory=dict)
    reused: list[int] = field(default_factory=list)

    def run(self, train: Train, more: Callable[[list[float]], bool], on_result: Callable[[], None]) -> None:
        """Train or reuse every repeat: the fixed ones (those another process holds are waited for after the rest),
        then the adaptive ones while ``more(values)``. ``on_result`` runs after each result."""
        pending = [r for r in range(self.fixed) if not self._obtain(r, train, on_result, wait=False)]
        for repeat in pending:
            self._obtain(repeat, train, on_result, wait=True)
        for repeat in range(self.fixed, self.most):
            if not more(self.ordered()[0]):
                return
            self._obtain(repeat, train, on_result, wait=True)

    def ordered(self) -> tuple[list[float], list[list[float]]]:
        """Values and curves of the repeats done from repeat 0 on without a gap, in repeat order."""
        n = 0
        while n in self.values:
            n += 1
        return [self.values[i] for i in range(n)], [self.curves[i] for i in range(n)]

    @property
    def _claims(self) -> tuple[float, float]:
        return self.settle, 4 * self.heartbeat

    def _holding(self, repeat: int, mine: dict[str, Any] | None) -> contextlib.AbstractContextManager:
        if self.key is None or mine is None:
            return contextlib.nullcontext()
        return holding(self.study, self.key, repeat, mine, self.heartbeat)

    def _obtain(self, repeat: int, train: Train, on_result: Callable[[], None], wait: bool) -> bool:
        """Train repeat ``repeat`` or take its stored result, waiting for another process's if ``wait``; False when
        another process holds it and ``wait`` is off."""
        while True:
            mine, slot = (None, None) if self.key is None else claim(self.study, self.key, repeat, *self._claims)
            if slot is None:
                values, curves = self.ordered()
                try:
                    with self._holding(repeat, mine):
                        value, curve = train(repeat, curves if len(values) == repeat else None)
                except BaseException:  # an early stop (TrialPruned), a failure, Ctrl-C: the repeat is free again
                    if self.key is not None:
                        release(self.study, self.key, repeat)
                    raise
                if self.key is not None:
                    store(self.study, self.key, repeat, value, curve)
            elif "value" in slot:
                value, curve = float(slot["value"]), list(slot.get("curve", []))
                self.reused.append(repeat)
            elif wait:
                time.sleep(self.poll)
                continue
            else:
                return False
            self.values[repeat], self.curves[repeat] = value, curve
            on_result()
            return True


def help_one(study: optuna.Study, fixed: int, train: Callable[[FrozenTrial, int], tuple[float, list[float]]],
             settle: float = 1.0, heartbeat: float = 30.0) -> bool:  # fmt: skip
    """Train one free fixed repeat (not repeat 0) of another process's running trial; whether there was one.

    A failing training frees the slot again (its trial trains the repeat) and is not raised: helping is optional.
    """
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        key = t.user_attrs.get("arch_key")
        if key is None or t.user_attrs.get(PID) == os.getpid():
            continue
        for repeat in range(1, fixed):
            mine, _ = claim(study, key, repeat, settle, 4 * heartbeat)
            if mine is None:
                continue
            try:
                with holding(study, key, repeat, mine, heartbeat):
                    value, curve = train(t, repeat)
            except Exception:
                release(study, key, repeat)
                return True
            store(study, key, repeat, value, curve)
            return True
    return False
