"""Heartbeats for Optuna's JournalStorage, which has none of its own (RDBStorage has); a reason on every lost trial.

With this storage, Optuna's own machinery applies unchanged: ``study.optimize`` records a heartbeat every
``heartbeat_interval`` seconds in a thread while a trial runs, and before each trial fails the RUNNING trials whose
heartbeat is older than ``grace_period`` (a worker killed by SIGKILL, out of memory, a lost node).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import FrozenTrial, TrialState

from search import seams

HEARTBEAT = "heartbeat"  # trial system attribute: seconds since the epoch
LOST = "lost"  # user attribute of a trial failed because its worker died: what happened, for trials.csv and W&B


class LostReason(seams.StaleTrials):
    """Storage mixin: a trial about to be failed for a stopped heartbeat gets ``LOST`` saying so first.

    Optuna fails stale trials itself (``fail_stale_trials``) and records no reason; the attribute is set while the
    trial is still running, the only time a trial's attributes can change.
    """

    grace_period: int

    def annotate(self, stale_ids: list[int]) -> list[int]:
        """Give each stale trial its ``LOST`` reason; the ids of those still running (not failed by another worker)."""
        stale = []
        for trial_id in stale_ids:
            trial = self.get_trial(trial_id)  # type: ignore[attr-defined]
            try:
                self.set_trial_user_attr(trial_id, LOST, self.lost(trial))  # type: ignore[attr-defined]
            except UpdateFinishedTrialError:  # another worker failed it meanwhile
                continue
            stale.append(trial_id)
        return stale

    def lost(self, trial: FrozenTrial) -> str:
        """What happened to ``trial``, whose worker stopped sending heartbeats."""
        return f"no heartbeat for over {self.grace_period} s (worker {trial.user_attrs.get('worker', '?')})"


class ReasonedRDBStorage(LostReason, RDBStorage):
    """Optuna's ``RDBStorage`` (its own heartbeats) whose lost trials say so (``LOST``)."""

    def stale_trial_ids(self, study_id: int) -> list[int]:
        return self.annotate(seams.rdb_stale_trial_ids(self, study_id))


class HeartbeatJournalStorage(LostReason, JournalStorage, seams.BaseHeartbeat):
    """A ``JournalStorage`` whose running trials record heartbeats as a system attribute.

    Args:
        backend: the journal backend (a file on a shared filesystem, typically).
        heartbeat_interval: seconds between heartbeats of a running trial.
        grace_period: a RUNNING trial without a heartbeat for this long is stale (default: twice the interval).
    """

    def __init__(self, backend: BaseJournalBackend, heartbeat_interval: int = 30, grace_period: int | None = None):
        super().__init__(backend)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period or 2 * heartbeat_interval

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT, time.time())

    def stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return self.annotate([seams.trial_id(t) for t in running if now - self._last_beat(t) > self.grace_period])

    def lost(self, trial: FrozenTrial) -> str:
        beat = datetime.fromtimestamp(self._last_beat(trial)).isoformat(sep=" ", timespec="seconds")
        return f"no heartbeat since {beat} (worker {trial.user_attrs.get('worker', '?')})"

    @staticmethod
    def _last_beat(trial: FrozenTrial) -> float:
        beat = trial.system_attrs.get(HEARTBEAT)
        return float(beat) if beat is not None else trial.datetime_start.timestamp()

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return None
