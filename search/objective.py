"""One trial of the search: quota, sampling, the architecture's key, reuse of earlier results, failure limits, records.

What a trial *does* with its architecture (build it, measure it, fine-tune it) is the ``evaluate`` callable it is
given (``search.evaluate.Evaluate`` in a real search), so the coordination here works the same for any evaluation.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from search import space, workers
from search.heartbeat import LOST

if TYPE_CHECKING:
    from search.tracking import Tracker

Evaluation = Callable[[optuna.Trial, space.Architecture, list], tuple[float, float]]


@dataclass
class Objective:
    """The Optuna objective of a search.

    Args:
        evaluate: ``evaluate(trial, arch, loggers) -> (metric, cost)`` for an architecture not evaluated before.
        sites: the placement's site ids (as text).
        candidates: candidate block key -> hyperparameter choices.
        scope: what the architecture key is relative to (model, classes, data, training): equal scope and equal
            blocks mean equal results.
        max_blocks, sample_hparams: the search space.
        n_trials: the study's quota, shared by all workers; None for no quota.
        max_failures: an architecture that failed this often is not tried again.
        poll: seconds between looks at the study while another worker trains the same architecture.
        settle: seconds a claim waits for racing claims when other trials are running.
        tracker: experiment tracking (one run per trial).
        worker: who runs the trial (host and ``search.worker``), recorded with it.
    """

    evaluate: Evaluation
    sites: Sequence[str]
    candidates: Mapping[str, Mapping[str, Sequence[Any]]]
    scope: str = ""
    max_blocks: int = 2
    sample_hparams: bool = True
    n_trials: int | None = None
    max_failures: int = 2
    poll: float = 5.0
    settle: float = 1.0
    tracker: Tracker | None = None
    worker: str = ""

    def __call__(self, trial: optuna.Trial) -> tuple[float, float]:
        if self.n_trials is not None and not workers.admit(trial, self.n_trials):
            trial.set_user_attr(workers.QUOTA, True)
            raise optuna.TrialPruned(f"the study already has search.n_trials={self.n_trials} trials")
        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr(workers.PID, os.getpid())
        try:  # from here on, whatever raises fails the trial with its reason (a trial failed without one is replaced)
            arch = space.sample(trial, self.sites, self.candidates, self.max_blocks, self.sample_hparams)
            key = hashlib.sha1(f"{self.scope}|{space.to_json(space.canonical(arch))}".encode()).hexdigest()[:16]
            trial.set_user_attr("arch", space.to_json(arch))
            trial.set_user_attr("describe", space.describe(arch))
            trial.set_user_attr("arch_key", key)
            loggers = self.tracker.start(trial.number, trial.params) if self.tracker else []
            values = self._reuse(trial, key)
            if values is None:
                values = self.evaluate(trial, arch, loggers)
        except optuna.TrialPruned as stop:
            self._end(trial, "PRUNED", str(stop))
            raise
        except KeyboardInterrupt:  # not counted: a resumed study gives its slot to another trial
            trial.set_user_attr(LOST, f"interrupted (Ctrl-C or SIGTERM) on worker {self.worker}")
            self._end(trial, "FAIL", "")
            raise
        except Exception as err:  # a failing trial never takes the study down: Optuna records it as FAIL
            self._end(trial, "FAIL", f"{type(err).__name__}: {err}")
            raise
        self._end(trial, "COMPLETE", "")
        return values

    def _reuse(self, trial: optuna.Trial, key: str) -> tuple[float, float] | None:
        """The stored result of ``key`` if it was evaluated before (here or by another worker), else None."""
        prior = workers.claim(trial, key, self.max_failures, settle=self.settle, poll=self.poll)
        if prior is None:
            return None
        for name, value in prior.user_attrs.items():
            if name not in ("arch", "describe", "reason", "reused_from", "worker", workers.PID):
                trial.set_user_attr(name, value)
        trial.set_user_attr("reused_from", prior.number)
        if prior.state == optuna.trial.TrialState.PRUNED:
            raise optuna.TrialPruned(f"same architecture as trial {prior.number}: {prior.user_attrs.get('reason')}")
        return prior.values[0], prior.values[1]

    def _end(self, trial: optuna.Trial, state: str, reason: str) -> None:
        if reason:
            trial.set_user_attr(workers.REASON, reason[:500])
        if self.tracker:
            self.tracker.finish(state, {**trial.user_attrs, "trial": trial.number})
