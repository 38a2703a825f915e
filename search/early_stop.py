"""Early stopping for multi-objective studies, which Optuna's pruners don't support.

A trial is stopped at epoch k when its mAP is below, by ``margin``, what a completed trial of no more cost (GFLOPs,
params or latency) reached at epoch k: such a trial already dominates it there, so training on is unlikely to pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna

CURVE = "curve"  # user attribute: the primary validation metric after each epoch


@dataclass(frozen=True)
class EarlyStop:
    """The stopping rule of one running trial.

    Args:
        cost: the trial's cost (the study's second objective).
        references: (cost, per-epoch metric) of completed trials.
        margin: how far below the best cheaper-or-equal reference a trial may fall before it is stopped.
        min_epoch: never stop before this epoch (1-based).
    """

    cost: float
    references: Sequence[tuple[float, Sequence[float]]]
    margin: float = 0.02
    min_epoch: int = 1

    @classmethod
    def for_trial(cls, study: optuna.Study, cost: float, margin: float, min_epoch: int) -> EarlyStop:
        """The rule against the completed trials of ``study`` at this moment."""
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        refs = [(t.values[1], t.user_attrs[CURVE]) for t in done if CURVE in t.user_attrs and t.values]
        return cls(cost, refs, margin, min_epoch)

    def threshold(self, epoch: int) -> float | None:
        """The best metric at ``epoch`` (1-based) among references of no more cost, or None if there is none."""
        values = [curve[epoch - 1] for cost, curve in self.references if cost <= self.cost and len(curve) >= epoch]
        return max(values, default=None)

    def should_stop(self, epoch: int, metric: float) -> bool:
        """Whether a trial at ``metric`` after ``epoch`` epochs should stop."""
        best = self.threshold(epoch)
        return epoch >= self.min_epoch and best is not None and metric < best - self.margin
