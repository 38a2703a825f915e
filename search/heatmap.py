"""The block × site map: where does a block help? The paired difference to the baseline of every single-block trial.

A cell is one block at one site: the mean paired Δ (``delta`` of ``trials.csv``) of the architectures with that block
alone at that site (hyperparameter variants averaged, their count shown). A cell is drawn solid and outlined where at
least one of its architectures differs from the baseline significantly (Holm-corrected, see ``report``) in the
direction of the mean; faded and hatched where none does, or where single repeats allow no test.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Cell:
    """One block at one site: mean Δ, how many architectures it averages, and whether the difference is significant."""

    delta: float
    count: int
    significant: bool


def block_site_cells(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Cell]:
    """The cells of the map from ``report.trial_rows``: completed, first-evaluated trials with exactly one block."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        sites = [k for k in r if k.startswith("site_") and r[k]]
        if r["state"] != "COMPLETE" or r.get("reused_from") is not None or r.get("delta") is None or len(sites) != 1:
            continue
        found.setdefault((r[sites[0]], sites[0].removeprefix("site_")), []).append(r)
    cells = {}
    for key, group in found.items():
        mean = statistics.fmean(r["delta"] for r in group)
        same_sign = [r for r in group if math.copysign(1, r["delta"]) == math.copysign(1, mean)]
        significant = any(r.get("significant") for r in same_sign)
        cells[key] = Cell(mean, len(group), significant)
    return cells


def plot_heatmap(rows: list[dict[str, Any]], metric: str, path: Path) -> None:
    """Write the map as a PNG: blocks down, sites across, Δ in a diverging colour centred on 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    cells = block_site_cells(rows)
    blocks = sorted({b for b, _ in cells})
    sites = sorted({s for _, s in cells}, key=lambda s: (0, int(s), "") if s.isdigit() else (1, 0, s))
    size = (max(6.0, 2.5 + 0.9 * len(sites)), max(3.0, 1.6 + 0.5 * len(blocks)))  # room for the title and colour bar
    fig, ax = plt.subplots(figsize=size, dpi=120)
    if not cells:
        ax.text(0.5, 0.5, "no single-block trial compared with the baseline yet", ha="center", va="center")
        ax.set_axis_off()
    else:
        limit = max(abs(c.delta) for c in cells.values()) or 1e-6
        norm, cmap = TwoSlopeNorm(0.0, -limit, limit), plt.get_cmap("RdBu")
        for (block, site), cell in cells.items():
            x, y = sites.index(site), blocks.index(block)
            colour = cmap(norm(cell.delta))
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, color=colour, alpha=1.0 if cell.significant else 0.35))
            if cell.significant:
                ax.add_patch(Rectangle((x - 0.48, y - 0.48), 0.96, 0.96, fill=False, ec="k", lw=1.5))
            else:
                ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", ec="#888888", lw=0))
            count = f"\n({cell.count} variants)" if cell.count > 1 else ""
            ax.text(x, y, f"{cell.delta:+.4f}{count}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(sites)), sites)
        ax.set_yticks(range(len(blocks)), blocks)
        ax.set_xlim(-0.5, len(sites) - 0.5)
        ax.set_ylim(len(blocks) - 0.5, -0.5)
        ax.set_xlabel("site")
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"Δ {metric} vs baseline")
        ax.set_title(
            f"Δ {metric} against the baseline per block and site\n"
            "solid, outlined: significant (Holm, α=0.05); hatched: not; blank: not tried",
            fontsize=8,
        )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
