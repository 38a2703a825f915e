"""The site screen: sites whose output reaches only levels of the detection head where the baseline detects nothing.

A block changes a detector's score only through the boxes of the head levels its output reaches (``Site.feeds``).
Where the starting baseline keeps no box at any of them (a score above ultralytics' predict threshold 0.25, after NMS,
on the validation split: ``runners.levels``), a block there cannot change a trial. On the default digits data the
baseline detects on its stride-8 level alone, and the exhaustive table's single-block runs at the four sites that
feed only strides 16 and 32 follow the baseline's curve within 0.00055 at every epoch (README, Search efficiency).
``search.skip_inert_sites`` leaves such sites out of the search space, so its trials go where a block can matter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from search.placement.base import Site


def inert_sites(candidates: Sequence[Site], kept: Mapping[int, int]) -> list[Site]:
    """The sites of ``candidates`` whose every fed level keeps no box (``kept``: stride -> boxes).

    None when no level keeps a box (an untrained baseline: no evidence either way) or when every candidate would go
    (the search would have nothing to sample); a site that feeds no listed level (a classifier's) is never inert.
    """
    if not any(kept.values()):
        return []
    inert = [s for s in candidates if s.feeds and not any(kept.get(stride, 0) for stride in s.feeds)]
    return [] if len(inert) == len(candidates) else inert


def describe(inert: Sequence[Site], kept: Mapping[int, int]) -> str:
    """The one line a search prints about the screen."""
    boxes = ", ".join(f"stride {stride}: {n}" for stride, n in sorted(kept.items()))
    if not any(kept.values()):
        return f"site screen: the baseline keeps no box at any head level, so every site is kept ({boxes})"
    if not inert:
        return f"site screen: every site feeds a head level where the baseline detects (boxes kept, {boxes})"
    names = ", ".join(str(s.index) for s in inert)
    return (
        f"site screen: skipping sites {names}: they feed only head levels where the baseline keeps no box "
        f"({boxes}; search.skip_inert_sites=false keeps them)"
    )
