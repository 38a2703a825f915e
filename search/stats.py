"""Statistics of the search's claims.

Rank agreement between two scorings of the same architectures (Kendall's τ, Spearman's ρ, partial τ, top-k, split-half
reliability), which the fidelity benchmark uses to ask whether a cheap trial ranks architectures the way a full
training does; and paired comparisons over repeats with common random numbers, corrected for multiple comparisons.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b (ties counted as in scipy); NaN when either side is constant."""
    return float(stats.kendalltau(x, y).statistic)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation ρ."""
    return float(stats.spearmanr(x, y).statistic)


def kendall_interval(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of Kendall's τ over the pairs (x_i, y_i), resampled with replacement (resamples
    constant on one side, whose τ is undefined, are dropped); NaNs below 3 pairs.

    How far a τ over a dozen architectures could move with another dozen: at n = 12 a τ of 0.3 is not yet
    distinguishable from 0.
    """
    n = len(x)
    if n < 3:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    taus = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        tau = kendall([x[i] for i in idx], [y[i] for i in idx])
        if not math.isnan(tau):
            taus.append(tau)
    if not taus:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(taus, [tail, 1 - tail])
    return float(low), float(high)


def partial_kendall(x: Sequence[float], y: Sequence[float], z: Sequence[float]) -> float:
    """Kendall's partial τ of x and y with z held constant (Kendall 1942).

    τ_xy·z = (τ_xy − τ_xz·τ_yz) / sqrt((1 − τ_xz²)(1 − τ_yz²)): what x says about the ranking of y beyond what z (for
    example GFLOPs, which alone already ranks many architectures) says.
    """
    xy, xz, yz = kendall(x, y), kendall(x, z), kendall(y, z)
    denom = math.sqrt(max((1 - xz**2) * (1 - yz**2), 0.0))
    return (xy - xz * yz) / denom if denom > 0 else float("nan")


def top_k_overlap(x: Sequence[float], y: Sequence[float], k: int = 3) -> int:
    """How many of the k highest by ``x`` are among the k highest by ``y``."""
    order = lambda v: set(sorted(range(len(v)), key=lambda i: -v[i])[:k])  # noqa: E731
    return len(order(x) & order(y))


def split_half_kendall(scores: Sequence[Sequence[float]]) -> float:
    """Mean Kendall τ between the seed-means of the two halves, over every split of the seeds into halves.

    ``scores[a][s]`` is architecture a's score at seed s (every architecture has the same seeds). With an odd number
    of seeds the halves differ by one. This is how far a scoring agrees with itself when its seeds are redrawn.
    """
    n = len(scores[0])
    if n < 2:
        return float("nan")
    taus = []
    for half in itertools.combinations(range(n), n // 2):
        rest = [s for s in range(n) if s not in half]
        a = [sum(row[s] for s in half) / len(half) for row in scores]
        b = [sum(row[s] for s in rest) / len(rest) for row in scores]
        taus.append(kendall(a, b))
    return sum(taus) / len(taus)


@dataclass(frozen=True)
class Paired:
    """A paired comparison of two scorings over common repeats (repeat k of both used the same seed).

    Attributes:
        n: common repeats.
        delta: mean difference (a − b).
        low, high: its two-sided confidence interval (Student's t with n − 1 degrees of freedom).
        p_value: two-sided paired t-test of delta = 0; NaN below two repeats or with no spread.
    """

    n: int
    delta: float
    low: float
    high: float
    p_value: float


def paired(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Paired:
    """Paired t comparison of ``a`` and ``b`` (equal length, matched by repeat).

    The t-test on per-repeat differences, because common random numbers make the differences far less noisy than
    either score, and with the 2–5 repeats a search affords a rank test (Wilcoxon) cannot reach p < 0.05 at all.
    """
    if len(a) != len(b):
        raise ValueError(f"paired: {len(a)} and {len(b)} values; pairs need equal counts")
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    if n == 0:
        return Paired(0, float("nan"), float("nan"), float("nan"), float("nan"))
    mean = sum(d) / n
    if n < 2:
        return Paired(n, mean, float("nan"), float("nan"), float("nan"))
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(a, b).pvalue) if sd > 0 else (1.0 if mean == 0 else 0.0)
    return Paired(n, mean, mean - half, mean + half, p)


def draw_means(values: Sequence[float], draws: int) -> list[float]:
    """The mean of each draw's values, where value k (repeat k) belongs to draw k mod ``draws``.

    Repeats that share a baseline draw share its deviation, so they are one unit of a test, not several; averaging
    within a draw and testing across draws is the cluster-level analysis that keeps the test's error rate.
    """
    if draws < 1:
        raise ValueError(f"draw_means: draws {draws}; valid: 1 or more")
    return [statistics.fmean(values[k::draws]) for k in range(min(draws, len(values)))]


def draw_units(values: Sequence[float], draws: int) -> list[float]:
    """The independent units of repeats that started from ``draws`` baselines, repeat k from draw k mod ``draws``:
    each draw's mean (``draw_means``; with as many draws as repeats, the repeats themselves), or, from one baseline,
    every repeat (a test conditional on that baseline)."""
    return list(values) if draws == 1 else draw_means(values, draws)


def paired_by_draw(a: Sequence[float], b: Sequence[float], draws: int = 1, confidence: float = 0.95) -> Paired:
    """``paired`` over the draw units (``draw_units``) of repeats that started from ``draws`` baselines."""
    return paired(draw_units(a, draws), draw_units(b, draws), confidence)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control; NaN entries stay NaN and are not counted).

    Uniformly more powerful than Bonferroni and valid under any dependence between the comparisons, which share the
    baseline's repeats.
    """
    valid = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m, running = len(valid), 0.0
    adjusted = [float("nan")] * len(p_values)
    for rank, (p, i) in enumerate(valid):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def reliability(scores: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """How well seed means tell architectures apart: (pooled seed σ, σ between architectures, reliability).

    ``scores[a]`` are architecture a's scores over its seeds (at least two for some). One-way random-effects ANOVA:
    the within-architecture variance is pooled over architectures; the between variance is that of the architecture
    means less its share of seed noise; reliability is the intraclass correlation of a mean over the average seed
    count k, σ²_between / (σ²_between + σ²_seed / k): near 1, ranks of means would replicate; near 0, they are noise.
    """
    groups = [list(g) for g in scores if len(g) > 0]
    within = [(len(g) - 1, statistics.variance(g)) for g in groups if len(g) > 1]
    dof = sum(d for d, _ in within)
    if dof == 0 or len(groups) < 2:
        return float("nan"), float("nan"), float("nan")
    seed_var = sum(d * v for d, v in within) / dof
    k = sum(len(g) for g in groups) / len(groups)
    between = max(statistics.variance([statistics.fmean(g) for g in groups]) - seed_var / k, 0.0)
    return math.sqrt(seed_var), math.sqrt(between), between / (between + seed_var / k) if between + seed_var else 0.0


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each row of ``x`` with the same row of ``y`` (arrays of shape (rows, n)), as ``kendall`` gives
    it for one pair of rows, for thousands of rows at once; NaN where a row is constant."""
    i, j = np.triu_indices(x.shape[1], 1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(1) / np.sqrt((sx**2).sum(1) * (sy**2).sum(1))


PRIORS = ("normal", "nonparametric")


def ceiling_kendall(
    scores: Sequence[Sequence[float]],
    prior: str = "normal",
    confidence: float = 0.95,
    draws: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The Kendall τ that a scoring which knew every architecture's true mean would reach against a reference like
    ``scores`` (``scores[a]``: architecture a's scores over its seeds): (mean, low, high) over simulated references.

    Empirical Bayes: a prior of the true means is fitted to the seed means x̄_a, each known to ±σ/√n_a with
    ``reliability``'s pooled seed σ, on a grid over their range: ``normal`` (the one-way random-effects model: mean m,
    σ_between) or ``nonparametric`` (its maximum-likelihood estimate, Kiefer–Wolfowitz, by EM: it lets a few
    architectures stand apart from many that do not differ). Each simulation draws every architecture's true mean from
    its posterior and a reference mean around it, and takes τ between the two (architectures tied in truth count as
    neither agreeing nor disagreeing). A trial's τ is bounded by the reference's noise: below the interval, it ranks
    worse than that noise allows. In simulations of a few architectures apart from many alike, the normal prior
    spreads the many and overstates the ceiling, the nonparametric one merges them and understates it, so the two
    bracket it; with evenly spread architectures both understate it a little (by about 0.05 and 0.13 at 12
    architectures and 4 seeds).
    NaNs when the architectures do not differ at all.
    """
    if prior not in PRIORS:
        raise ValueError(f"prior {prior!r}; valid: {', '.join(PRIORS)}")
    groups = [list(g) for g in scores if len(g) > 0]
    seed_sd, between_sd, _ = reliability(groups)
    if not between_sd > 0:
        return float("nan"), float("nan"), float("nan")
    means = np.array([statistics.fmean(g) for g in groups])
    se = seed_sd / np.sqrt([len(g) for g in groups])
    grid = np.linspace(means.min() - 3 * se.max(), means.max() + 3 * se.max(), 400)
    likelihood = stats.norm.pdf(means[:, None], grid[None, :], se[:, None])  # (architecture, grid point)
    weights = stats.norm.pdf(grid, means.mean(), between_sd)
    for _ in range(2000 if prior == "nonparametric" else 0):  # EM of the grid weights
        posterior = likelihood * weights
        weights = (posterior / posterior.sum(1, keepdims=True)).mean(0)
    posterior = likelihood * weights
    posterior /= posterior.sum(1, keepdims=True)
    rng = np.random.default_rng(seed)
    picks = (posterior.cumsum(1)[None] < rng.random((draws, len(groups), 1))).sum(2)
    truth = grid[picks.clip(max=len(grid) - 1)]  # (draw, architecture)
    taus = kendall_rows(truth, truth + rng.normal(0, se, truth.shape))
    taus = taus[~np.isnan(taus)]  # every architecture drawn at one grid point
    tail = (1 - confidence) / 2
    low, high = np.quantile(taus, [tail, 1 - tail])
    return float(taus.mean()), float(low), float(high)


def upper_bound(values: Sequence[float], confidence: float = 0.95) -> float:
    """One-sided Student-t upper confidence bound of the mean of ``values`` (at least two)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    return mean + stats.t.ppf(confidence, n - 1) * sd / math.sqrt(n)


def sd_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided confidence interval of the standard deviation of normal ``values`` (χ² with n − 1 degrees of freedom).

    Three seeds say little about σ: the interval runs from about half to about six times the estimate, so a target on
    σ checked with three seeds is checked loosely.
    """
    return pooled_sd([values], confidence)[1:]


def pooled_sd(groups: Sequence[Sequence[float]], confidence: float = 0.95) -> tuple[float, float, float]:
    """The σ that normal ``groups`` (each with its own mean) share, and its two-sided confidence interval: the pooled
    within-group variance, χ² with Σ(n − 1) degrees of freedom; NaNs without two values in some group."""
    dof = sum(len(g) - 1 for g in groups if len(g) > 1)
    if dof == 0:
        return float("nan"), float("nan"), float("nan")
    ss = sum((len(g) - 1) * statistics.variance(g) for g in groups if len(g) > 1)
    tail = (1 - confidence) / 2
    return math.sqrt(ss / dof), math.sqrt(ss / stats.chi2.ppf(1 - tail, dof)), math.sqrt(ss / stats.chi2.ppf(tail, dof))
