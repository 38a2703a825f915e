"""Early stopping for multi-objective studies, which Optuna's pruners don't support.

A trial is stopped at epoch k when a completed trial of no more cost (GFLOPs, params or latency) already dominates it
there, so training on is unlikely to pay. Two rules decide "dominates":

- raw (``confidence`` None): in its first repeat, the trial's metric at k is more than ``margin`` below the best a
  cheaper trial reached at k in its first repeat;
- paired (``confidence`` set): the paired differences at k to a cheaper trial over the repeats run so far (repeat j
  of both used the same seed) have a one-sided upper confidence bound below ``-margin``; with fewer than two repeats
  there is no evidence, and nothing is stopped. With ``draws`` baselines (``search.baselines``) fewer than the repeats,
  repeats that started from the same draw are one unit: the bound is over each draw's mean difference, as the report's
  test is (``search.stats.paired_by_draw``), so at least two draws are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from search.stats import draw_units, upper_bound

CURVE = "curve"  # user attribute: the primary validation metric after each epoch of repeat 0
REPEAT_CURVES = "repeat_curves"  # user attribute: each repeat's metric after every epoch


@dataclass(frozen=True)
class EarlyStop:
    """The stopping rule of one running trial.

    Args:
        cost: the trial's cost (the study's second objective).
        references: (cost, per-repeat curves) of completed trials.
        margin: how far below a cheaper-or-equal reference a trial may fall before it is stopped.
        min_epoch: never stop before this epoch (1-based).
        confidence: None for the raw rule, else the one-sided confidence of the paired rule (e.g. 0.95).
        draws: the baselines the repeats start from, repeat k from draw k mod ``draws`` (the paired rule's units).
    """

    cost: float
    references: Sequence[tuple[float, Sequence[Sequence[float]]]]
    margin: float = 0.02
    min_epoch: int = 1
    confidence: float | None = None
    draws: int = 1

    @classmethod
    def for_trial(
        cls,
        study: optuna.Study,
        cost: float,
        margin: float,
        min_epoch: int,
        confidence: float | None = None,
        draws: int = 1,
    ) -> EarlyStop:
        """The rule against the completed trials of ``study`` at this moment."""
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        refs = [
            (t.values[1], t.user_attrs.get(REPEAT_CURVES) or [t.user_attrs[CURVE]])
            for t in done
            if t.values and (REPEAT_CURVES in t.user_attrs or CURVE in t.user_attrs)
        ]
        return cls(cost, refs, margin, min_epoch, confidence, draws)

    def threshold(self, epoch: int) -> float | None:
        """The best first-repeat metric at ``epoch`` (1-based) among references of no more cost, or None."""
        values = [c[0][epoch - 1] for cost, c in self._cheaper() if c and len(c[0]) >= epoch]
        return max(values, default=None)

    def should_stop(self, epoch: int, curves: Sequence[Sequence[float]]) -> bool:
        """Whether a trial whose repeats so far have ``curves`` (the running one last, ``epoch`` long) should stop."""
        if epoch < self.min_epoch:
            return False
        if self.confidence is None:
            best = self.threshold(epoch)
            return len(curves) == 1 and best is not None and curves[0][epoch - 1] < best - self.margin
        return any(self._dominated(epoch, curves, theirs) for _, theirs in self._cheaper())

    def _cheaper(self) -> list[tuple[float, Sequence[Sequence[float]]]]:
        return [(cost, curves) for cost, curves in self.references if cost <= self.cost]

    def _dominated(self, epoch: int, mine: Sequence[Sequence[float]], theirs: Sequence[Sequence[float]]) -> bool:
        """The paired rule against one reference: the first repeats both have reached ``epoch`` in, as draw units."""
        diffs: list[float] = []
        for a, b in zip(mine, theirs, strict=False):  # repeat j of this trial with repeat j of the reference
            if min(len(a), len(b)) < epoch:
                break  # repeats in order, so that repeat j keeps its draw j mod draws
            diffs.append(a[epoch - 1] - b[epoch - 1])
        units = draw_units(diffs, self.draws)
        return len(units) >= 2 and upper_bound(units, self.confidence) < -self.margin
