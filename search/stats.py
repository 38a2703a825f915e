"""Rank agreement between two scorings of the same architectures: Kendall's τ, Spearman's ρ, partial τ, top-k.

Used to ask whether a cheap trial ranks architectures the way a full training does (``benchmarks/fidelity.py``), and
whether a full training agrees with itself across seeds (split-half reliability).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from scipy import stats


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b (ties counted as in scipy); NaN when either side is constant."""
    return float(stats.kendalltau(x, y).statistic)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation ρ."""
    return float(stats.spearmanr(x, y).statistic)


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
