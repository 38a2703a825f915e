"""Several workers on one study: an exact trial quota and one trainer per architecture.

Workers share nothing but the Optuna storage, so both rules are decided there:
- quota: a trial runs only if fewer than ``n_trials`` counted trials precede it. Counted: running, complete, pruned,
  and failed with a reason (the trial raised). A trial failed without one (its worker was killed, or Ctrl-C) is
  replaced: a worker with nothing left to start waits while others finish and takes over such a slot.
- claims: the first trial of an architecture key records itself as the key's owner in the study's user attributes
  (``_attnsearch.owner.<key>``: every attribute kept for the workers' own bookkeeping starts with ``INTERNAL``);
  another trial with the same key waits for the owner and reuses its result. When other trials are running at claim
  time, the claim settles for a moment and the last writer wins, so two workers never train the same key at once.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.heartbeat import LOST
from search.seams import fail_trial

INTERNAL = "_attnsearch."  # prefix of the study attributes the workers keep for themselves, not results
QUOTA = "over_quota"  # user attribute of trials started past the quota (pruned at once, not counted)
REASON = "reason"  # user attribute: why a trial failed or was pruned
PID = "pid"  # user attribute: the process id of the worker running the trial
LIVE = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)


def _counted(t: FrozenTrial) -> bool:
    if t.user_attrs.get(QUOTA):
        return False
    return t.state in LIVE or (t.state == TrialState.FAIL and REASON in t.user_attrs)


def progress(study: optuna.Study) -> tuple[int, int]:
    """(finished, running) trials that count towards the quota; finished includes trials that raised."""
    trials = [t for t in study.get_trials(deepcopy=False) if _counted(t)]
    running = sum(t.state == TrialState.RUNNING for t in trials)
    return len(trials) - running, running


def admit(trial: optuna.Trial, n_trials: int) -> bool:
    """Whether ``trial`` is within the quota: fewer than ``n_trials`` counted trials precede it."""
    earlier = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number and _counted(t)]
    return len(earlier) < n_trials


def run(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], Sequence[float]],
    n_trials: int,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    poll: float = 5.0,
    helper: Callable[[optuna.Study], bool] | None = None,
) -> None:
    """Run trials of ``study`` until ``n_trials`` counted trials have finished (across all workers).

    When every slot is taken, the worker waits in case one of them fails; ``helper(study)`` may meanwhile do work of
    the running trials (``search.repeats.help_one``), returning whether it did any.
    """
    while True:
        finished, running = progress(study)
        if finished >= n_trials:
            return
        if finished + running >= n_trials:  # the last slots are taken: help or wait, in case one of them fails
            _fail_stale(study)
            if helper is None or not helper(study):
                time.sleep(poll)
            continue
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=list(callbacks))


def claim(
    trial: optuna.Trial, key: str, max_failures: int = 2, settle: float = 1.0, poll: float = 5.0
) -> FrozenTrial | None:
    """Own architecture ``key`` for ``trial``, or return the finished trial of it to reuse.

    Returns None when ``trial`` should train the architecture; else a COMPLETE or PRUNED trial with the same key.
    Waits while another running trial owns the key. Raises ``optuna.TrialPruned`` once the architecture has raised
    ``max_failures`` times: pruned, not failed, so it counts towards the quota and a sampler that keeps proposing it
    cannot loop forever.
    """
    study = trial.study
    attr = f"{INTERNAL}owner.{key}"
    while True:
        trials = study.get_trials(deepcopy=False)
        same = [t for t in trials if t.number != trial.number and t.user_attrs.get("arch_key") == key]
        done = [t for t in same if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and not t.user_attrs.get(QUOTA)]
        if done:
            return min(done, key=lambda t: t.number)
        failures = sum(t.state == TrialState.FAIL and REASON in t.user_attrs for t in same)
        if failures >= max_failures:
            raise optuna.TrialPruned(f"architecture failed {failures} times (search.max_failures={max_failures})")
        owner = study.user_attrs.get(attr)
        owner_running = any(t.number == owner and t.state == TrialState.RUNNING for t in trials)
        if owner == trial.number:
            return None
        if owner_running:  # wait; if the owner's worker died, its heartbeat stops and the trial is failed here
            _fail_stale(study)
            time.sleep(poll)
            continue
        study.set_user_attr(attr, trial.number)
        others = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if t.number != trial.number]
        if others:
            time.sleep(settle)


def _fail_stale(study: optuna.Study) -> None:
    """Fail the running trials whose heartbeat stopped (Optuna only checks before starting a trial)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def fail_orphans(study: optuna.Study, worker: str) -> list[int]:
    """Fail at once the RUNNING trials of ``worker`` (host and worker id) whose process no longer exists.

    A worker restarted after a SIGKILL on the same host knows its own dead trials for certain, so it need not wait
    for their heartbeat grace period, which stays for trials of other workers. Returns the trial numbers failed.
    """
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get(PID)
        if t.user_attrs.get("worker") != worker or pid is None or alive(int(pid)):
            continue
        fail_trial(study, t, {LOST: f"worker {worker} (pid {pid}) was gone when it restarted"})
        failed.append(t.number)
    return failed


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
