"""Adaptive repeats: whether an architecture gets one more training, in the spirit of SMAC's intensification.

After its ``repeats`` trainings an architecture is trained again, up to ``max_repeats`` times, only while the search's
answer about it is still open:

- its paired difference Δ to the baseline over their common repeats is neither resolved better (the interval's lower
  end above 0) nor resolved worse (its upper end below 0), and
- no completed trial of no more cost is significantly better than it over their common repeats (it is not clearly
  dominated, so it may still enter the front).

The two decisions are held to different levels, as efficacy and futility bounds are in sequential trials. "Better"
is a claim the report will make, so it is decided at Bonferroni's ``1 - alpha / comparisons`` over the study's
comparisons with the baseline: an architecture resolved better here is also significant in the report's Holm-corrected
test (Holm's adjusted p is at most ``comparisons`` times p). "Worse" and "dominated" only end the spending on an
architecture, so they are decided at ``1 - alpha`` per comparison: what they risk is a missed improvement, never a
false one. The baseline itself is trained ``max_repeats`` times, so that every architecture can pair with it at every
repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from search.stats import paired_by_draw


@dataclass(frozen=True)
class Intensify:
    """The adaptive-repeat rule of one study.

    Args:
        repeats: trainings every architecture gets.
        max_repeats: trainings an undecided architecture may get.
        alpha: family-wise significance level of the study's comparisons with the baseline.
        comparisons: how many architectures are compared with the baseline (the trial quota less the baseline).
        draws: the baselines the repeats start from (``search.baselines``); the tests group repeats by draw as the
            report's do.
    """

    repeats: int
    max_repeats: int
    alpha: float = 0.05
    comparisons: int = 1
    draws: int = 1

    def __post_init__(self) -> None:
        if self.max_repeats < self.repeats:
            raise ValueError(f"Intensify: max_repeats {self.max_repeats} below repeats {self.repeats}")

    @property
    def confidence(self) -> float:
        """Two-sided confidence of "better than the baseline" (Bonferroni over the comparisons)."""
        return 1 - self.alpha / max(self.comparisons, 1)

    def more(
        self,
        values: Sequence[float],
        baseline: Sequence[float] | None,
        cheaper: Sequence[Sequence[float]] = (),
    ) -> bool:
        """Whether an architecture with per-repeat ``values`` so far is trained once more.

        Args:
            values: the architecture's metric per repeat, in repeat order.
            baseline: the baseline's per-repeat metrics (None: no completed baseline, so nothing can be decided and
                no repeat is added beyond ``repeats``).
            cheaper: per-repeat metrics of the completed trials of no more cost (the baseline may be among them).
        """
        done = len(values)
        if done < self.repeats:
            return True
        if done >= self.max_repeats or baseline is None or done >= len(baseline):
            return False  # at the limit, or another repeat would have no baseline repeat to pair with
        if done < 2:
            return True  # one pair is no test yet
        if paired_by_draw(values, baseline[:done], self.draws, self.confidence).low > 0:
            return False  # resolved better than the baseline
        return not any(self._dominated(values, other) for other in [baseline, *cheaper])

    def _dominated(self, values: Sequence[float], other: Sequence[float]) -> bool:
        """``other`` (the baseline, or a trial of no more cost) is significantly better over their common repeats."""
        n = min(len(values), len(other))
        return n >= 2 and paired_by_draw(values[:n], other[:n], self.draws, 1 - self.alpha).high < 0
