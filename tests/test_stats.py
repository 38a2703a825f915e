"""The statistics behind the search's claims, against hand-computed values and scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from search.stats import (
    holm,
    kendall,
    paired,
    partial_kendall,
    reliability,
    spearman,
    split_half_kendall,
    top_k_overlap,
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
