"""The statistics behind the search's claims, against hand-computed values and scipy."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest
from scipy import stats as scipy_stats

from search.stats import (
    PRIORS,
    ceiling_kendall,
    draw_means,
    holm,
    kendall,
    kendall_interval,
    kendall_rows,
    paired,
    partial_kendall,
    pooled_sd,
    reliability,
    sd_interval,
    spearman,
    split_half_kendall,
    top_k_overlap,
    upper_bound,
)


def test_rank_statistics_against_hand_computed_values() -> None:
    x = [1.0, 2.0, 3.0, 4.0]
    assert kendall(x, x) == pytest.approx(1.0)
    assert kendall(x, x[::-1]) == pytest.approx(-1.0)
    assert kendall(x, [1.0, 3.0, 2.0, 4.0]) == pytest.approx(4 / 6)  # 5 concordant pairs, 1 discordant
    assert spearman(x, [1.0, 3.0, 2.0, 4.0]) == pytest.approx(1 - 6 * 2 / (4 * 15))
    assert top_k_overlap([4, 3, 2, 1], [4, 1, 3, 2], k=2) == 1
    y = [1.0, 3.0, 2.0, 4.0]
    assert math.isnan(partial_kendall(x, y, y))  # z ranks y perfectly: nothing is left to explain
    tau_xy, tau_xz, tau_yz = 4 / 6, 0.0, 2 / 6  # z = [1, 4, 3, 2]: 3 of 6 pairs agree with x, 4 with y
    expected = (tau_xy - tau_xz * tau_yz) / math.sqrt((1 - tau_xz**2) * (1 - tau_yz**2))
    assert partial_kendall(x, y, [1.0, 4.0, 3.0, 2.0]) == pytest.approx(expected)


def test_split_half_agreement() -> None:
    consistent = [[a + 0.01 * s for s in range(4)] for a in range(5)]  # every seed ranks the same way
    assert split_half_kendall(consistent) == pytest.approx(1.0)
    flipping = [[0, 1], [1, 0]]  # seed 0 and seed 1 disagree on the order of two architectures
    assert split_half_kendall(flipping) == pytest.approx(-1.0)
    assert math.isnan(split_half_kendall([[0.1], [0.2]]))


def test_paired_comparison_against_scipy_and_by_hand() -> None:
    a, b = [0.31, 0.29, 0.35, 0.30], [0.30, 0.27, 0.33, 0.30]  # differences 0.01, 0.02, 0.02, 0.00
    result = paired(a, b)
    d = [0.01, 0.02, 0.02, 0.0]
    mean = sum(d) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 3)
    half = scipy_stats.t.ppf(0.975, 3) * sd / 2
    assert (result.n, result.delta) == (4, pytest.approx(mean))
    assert (result.low, result.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert result.p_value == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue)
    assert paired([0.3, 0.4], [0.3, 0.4]).p_value == 1.0  # identical: no difference, no spread
    assert math.isnan(paired([0.3], [0.2]).p_value) and paired([0.3], [0.2]).delta == pytest.approx(0.1)
    with pytest.raises(ValueError, match="equal counts"):
        paired([0.1, 0.2], [0.1])


def test_holm_adjustment() -> None:
    # sorted p: 0.01 (×3), 0.02 (×2 → 0.04), 0.04 (×1, but never below the previous: 0.04)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, float("nan"), 0.6]) == pytest.approx([1.0, float("nan"), 1.0], nan_ok=True)
    assert holm([]) == []


def test_reliability_of_seed_means() -> None:
    seed_sd, between_sd, icc = reliability([[1.0, 1.0], [2.0, 2.0]])  # no seed noise: means replicate exactly
    assert (seed_sd, icc) == (0.0, 1.0) and between_sd == pytest.approx(math.sqrt(0.5))
    assert reliability([[0.0, 1.0], [0.0, 1.0]])[1:] == (0.0, 0.0)  # equal architectures: ranks are noise
    # between variance 0.5 of the means, less the seed variance 0.5 over k = 2 seeds: 0.25; reliability 0.25/0.5
    seed_sd, between_sd, icc = reliability([[0.5, 1.5], [1.5, 2.5]])
    assert (seed_sd, between_sd, icc) == (pytest.approx(math.sqrt(0.5)), pytest.approx(0.5), pytest.approx(0.5))
    assert all(math.isnan(v) for v in reliability([[0.3], [0.4]]))  # one seed each: no seed variance to pool


def test_kendall_rows_is_kendall_row_by_row() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, (50, 7)).astype(float), rng.normal(size=(50, 7))  # ties in x: τ-b
    assert kendall_rows(x, y) == pytest.approx([kendall(list(a), list(b)) for a, b in zip(x, y, strict=True)])
    assert math.isnan(kendall_rows(np.ones((1, 3)), y[:1, :3])[0])


def test_ceiling_kendall_is_what_a_perfect_scoring_reaches_against_a_noisy_reference() -> None:
    for prior in PRIORS:
        assert ceiling_kendall([[1.0, 1.01], [2.0, 2.01], [3.0, 3.01]], prior, draws=50)[1] == 1.0  # hardly any noise
        assert all(math.isnan(v) for v in ceiling_kendall([[0.0, 1.0], [0.0, 1.0]], prior))  # nothing differs
    with pytest.raises(ValueError, match="valid: normal, nonparametric"):
        ceiling_kendall([[0.0, 1.0], [2.0, 3.0]], "flat")
    # References drawn from known means, two architectures apart from ten alike (as the fidelity reference looks), 4
    # seeds: estimated from one reference each, the normal prior's ceiling is above the true means' τ against such
    # references and the nonparametric prior's below it
    rng = np.random.default_rng(1)
    truth = np.array([0.0] * 10 + [-0.7, -0.3])
    refs = [truth[:, None] + rng.normal(0, 0.136, (12, 4)) for _ in range(10)]
    expected = statistics.fmean(kendall(list(truth), list(r.mean(1))) for r in refs)
    normal, nonparametric = (
        statistics.fmean(ceiling_kendall([list(row) for row in r], prior, draws=60)[0] for r in refs)
        for prior in PRIORS
    )
    assert normal > expected + 0.05 and nonparametric < expected - 0.03


def test_partial_kendall_removes_what_z_explains() -> None:
    """With z correlated with both x and y, the correction uses τ_xz and τ_yz; checked against scipy's τ."""
    x, y, z = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 5.0], [1.0, 3.0, 2.0, 5.0, 4.0]
    tau = lambda a, b: scipy_stats.kendalltau(a, b).statistic  # noqa: E731
    xy, xz, yz = tau(x, y), tau(x, z), tau(y, z)
    assert (xy, xz, yz) == (pytest.approx(0.6), pytest.approx(0.6), pytest.approx(0.2))  # 8, 8 and 6 of 10 concordant
    assert partial_kendall(x, y, z) == pytest.approx((0.6 - 0.6 * 0.2) / math.sqrt((1 - 0.36) * (1 - 0.04)))


def test_top_k_takes_the_highest_and_defaults_to_three() -> None:
    x, y = [5.0, 4.0, 3.0, 2.0, 1.0], [5.0, 4.0, 1.0, 2.0, 3.0]
    assert top_k_overlap(x, y, k=2) == 2  # {0, 1} both times; the lowest two would share only index 3
    assert top_k_overlap(x, y) == 2  # k = 3: {0, 1, 2} and {0, 1, 4}
    assert top_k_overlap(x, y, k=4) == 3


def test_split_half_over_every_split_of_an_odd_seed_count() -> None:
    # three seeds: splits {0}|{1,2}, {1}|{0,2}, {2}|{0,1}; architecture 1 wins seeds 0 and 1, architecture 0 seed 2
    scores = [[0.0, 0.0, 3.0], [1.0, 1.0, 0.0]]
    # means: split {0}: (0 vs 1.5), (1 vs 0.5) -> -1; split {1}: same -> -1; split {2}: (3 vs 0), (0 vs 1) -> -1
    assert split_half_kendall(scores) == pytest.approx(-1.0)
    three = [[0.1, 0.2, 0.3], [0.2, 0.3, 0.4], [0.35, 0.05, 0.5]]
    halves = [([0], [1, 2]), ([1], [0, 2]), ([2], [0, 1])]
    expected = [
        scipy_stats.kendalltau(
            [sum(r[s] for s in h) / len(h) for r in three], [sum(r[s] for s in rest) / len(rest) for r in three]
        ).statistic
        for h, rest in halves
    ]
    assert split_half_kendall(three) == pytest.approx(sum(expected) / 3)


def test_reliability_pools_unequal_groups_and_edge_cases() -> None:
    # groups of 2 and 3 values: pooled seed variance = (SS_1 + SS_2) / (N - groups) = (0.5 + 2) / 3
    groups = [[0.0, 1.0], [1.0, 2.0, 3.0]]
    seed_var, k = (0.5 + 2.0) / 3, 2.5
    between = max(((0.5 - 1.25) ** 2 + (2.0 - 1.25) ** 2) - seed_var / k, 0.0)  # variance of the two means: 1.125
    seed_sd, between_sd, icc = reliability(groups)
    assert seed_sd == pytest.approx(math.sqrt(seed_var)) and between_sd == pytest.approx(math.sqrt(between))
    assert icc == pytest.approx(between / (between + seed_var / k))
    assert reliability([*groups, []]) == reliability(groups)  # an architecture without scores is not a group
    # a single-seed architecture adds a mean (and lowers k) but no seed variance
    seed_sd, between_sd, icc = reliability([[0.0, 1.0], [2.0, 3.0], [4.0]])
    seed_var, k, means = 0.5, 5 / 3, [0.5, 2.5, 4.0]
    m = sum(means) / 3
    between = sum((v - m) ** 2 for v in means) / 2 - seed_var / k
    assert (seed_sd, between_sd) == (pytest.approx(math.sqrt(seed_var)), pytest.approx(math.sqrt(between)))
    assert icc == pytest.approx(between / (between + seed_var / k))
    # between = seed variance = 3 exactly (means 1, 3, 5 with variance 4, less 3 / k for k = 3): reliability 3 / 4
    assert reliability([[0.0, 0.0, 3.0], [2.0, 2.0, 5.0], [4.0, 4.0, 7.0]]) == (math.sqrt(3.0), math.sqrt(3.0), 0.75)
    assert reliability([[1.0, 1.0], [1.0, 1.0]]) == (0.0, 0.0, 0.0)  # no spread at all: nothing to tell apart
    assert all(math.isnan(v) for v in reliability([[0.0, 1.0]]))  # one architecture: no between variance


def test_upper_bound_is_the_one_sided_t_bound() -> None:
    values = [1.0, 2.0, 4.0]
    mean, sd = 7 / 3, statistics.stdev(values)
    assert upper_bound(values) == pytest.approx(mean + scipy_stats.t.ppf(0.95, 2) * sd / math.sqrt(3))
    assert upper_bound(values, 0.8) == pytest.approx(mean + scipy_stats.t.ppf(0.8, 2) * sd / math.sqrt(3))
    assert upper_bound([-0.25, -0.25]) == -0.25  # no spread: the mean itself


def test_paired_without_enough_repeats_and_without_spread() -> None:
    empty = paired([], [])
    assert empty.n == 0 and all(math.isnan(v) for v in (empty.delta, empty.low, empty.high, empty.p_value))
    one = paired([0.3], [0.2])
    assert one.n == 1 and all(math.isnan(v) for v in (one.low, one.high, one.p_value))
    shifted = paired([0.25, 0.5], [0.0, 0.25])  # the same difference at both repeats: certain, p = 0
    assert (shifted.n, shifted.delta, shifted.low, shifted.high, shifted.p_value) == (2, 0.25, 0.25, 0.25, 0.0)


def test_holm_never_exceeds_one() -> None:
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # 2 x 0.6 would be 1.2


def test_sd_interval_is_the_chi_square_interval() -> None:
    values = [0.70, 0.72, 0.71]  # sd 0.01 over 2 degrees of freedom
    low, high = sd_interval(values)
    # by hand: sqrt(2 * 0.01^2 / q) for the chi-square quantiles at 0.975 (7.3778) and 0.025 (0.050636) with 2 df
    assert (low, high) == pytest.approx((math.sqrt(2e-4 / 7.377759), math.sqrt(2e-4 / 0.0506356)), rel=1e-5)
    assert low < statistics.stdev(values) < high
    narrow = sd_interval([0.70, 0.72, 0.71] * 10)
    assert high - low > narrow[1] - narrow[0]
    assert all(math.isnan(v) for v in sd_interval([0.7]))


def test_pooled_sd_pools_within_groups_not_between() -> None:
    """Two groups with sd 0.01 each and means far apart share σ 0.01 (4 degrees of freedom), not the spread of all."""
    a, b = [0.70, 0.72, 0.71], [0.50, 0.52, 0.51]
    sd, low, high = pooled_sd([a, b])
    assert (low, high) == pytest.approx((math.sqrt(4e-4 / 11.143287), math.sqrt(4e-4 / 0.4844186)), rel=1e-5)
    assert sd == pytest.approx(0.01) and low < sd < high < statistics.stdev(a + b)
    assert pooled_sd([a, [0.6]]) == pooled_sd([a])  # a single run adds nothing to the within-group variance
    assert all(math.isnan(v) for v in pooled_sd([[0.7], [0.6]]))


def test_kendall_interval_covers_the_true_tau_and_is_wide_for_a_dozen() -> None:
    assert kendall_interval([1, 2, 3, 4], [2, 4, 6, 8]) == (1.0, 1.0)
    assert all(math.isnan(v) for v in kendall_interval([1, 2], [1, 2]))
    rng = random.Random(1)
    covered = 0
    for rep in range(40):  # bivariate normal with ρ = 0.5: τ = 2/π·asin(ρ) = 1/3
        x = [rng.gauss(0, 1) for _ in range(40)]
        y = [0.5 * a + math.sqrt(0.75) * rng.gauss(0, 1) for a in x]
        low, high = kendall_interval(x, y, resamples=400, seed=rep)
        covered += low <= 1 / 3 <= high
    assert covered >= 34  # 95% nominal; the percentile bootstrap under-covers a little at n = 40
    x = [rng.gauss(0, 1) for _ in range(12)]
    low, high = kendall_interval(x, [rng.gauss(0, 1) for _ in range(12)])
    assert low < 0 < high and high - low > 0.5  # a dozen independent pairs: τ is anywhere


def test_draw_means_average_the_repeats_of_each_draw() -> None:
    assert draw_means([1.0, 10.0, 3.0, 20.0, 5.0], 2) == [3.0, 15.0]  # repeats 0, 2, 4 and 1, 3
    assert draw_means([1.0, 2.0], 3) == [1.0, 2.0]  # a draw no repeat started from has no mean
    assert draw_means([1.0, 2.0, 4.0], 1) == [pytest.approx(7 / 3)]
    with pytest.raises(ValueError, match="draws 0"):
        draw_means([1.0], 0)
