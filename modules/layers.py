"""Small helpers shared by the blocks."""

from __future__ import annotations


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round ``v`` to a multiple of ``divisor`` (at least ``min_value``), never losing more than 10% of it."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of ``n`` that is no greater than ``at_most`` (at least 1)."""
    for d in range(max(1, min(at_most, n)), 0, -1):
        if n % d == 0:
            return d
    return 1
