"""Every use the search makes of Optuna's internals, one name each.

None of these is a public API, so an upgrade may change any of them without notice: ``tests/test_seams.py`` checks
each against the installed version and names the one that changed, and ``pyproject.toml`` pins Optuna to the versions
the suite passed with.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

__all__ = ["BaseHeartbeat", "StaleTrials", "fail_trial", "rdb_stale_trial_ids", "trial_id"]


class StaleTrials:
    """Storage mixin: Optuna's ``fail_stale_trials`` asks a heartbeat storage for the trials whose worker stopped
    sending heartbeats through the private ``_get_stale_trial_ids``, answered here by ``stale_trial_ids``."""

    def stale_trial_ids(self, study_id: int) -> list[int]:
        """Storage ids of the RUNNING trials of study ``study_id`` whose heartbeat stopped."""
        raise NotImplementedError

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self.stale_trial_ids(study_id)


def rdb_stale_trial_ids(storage: RDBStorage, study_id: int) -> list[int]:
    """What ``RDBStorage`` itself finds stale (by the heartbeats Optuna records there)."""
    return RDBStorage._get_stale_trial_ids(storage, study_id)


def trial_id(trial: FrozenTrial) -> int:
    """The storage's id of ``trial`` (Optuna's public calls name trials by number, its storages by this id)."""
    return trial._trial_id


def fail_trial(study: optuna.Study, trial: FrozenTrial, user_attrs: dict[str, Any]) -> None:
    """Fail another process's RUNNING ``trial`` with ``user_attrs`` (Optuna has no public call for it)."""
    storage = study._storage
    for key, value in user_attrs.items():
        storage.set_trial_user_attr(trial_id(trial), key, value)
    storage.set_trial_state_values(trial_id(trial), TrialState.FAIL)
