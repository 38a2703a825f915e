"""``python -m search.inspect model=yolov8n placement=neck attn=cbam``: the sites of a placement and what blocks cost.

Prints one row per site (index, section, layer, channels, stride, the strides of the detection head's inputs its
output reaches, and per candidate block its added parameters and MFLOPs there), then the baseline's parameters and
GFLOPs against the model with the block at every site.
"""

from __future__ import annotations

import math

import hydra
from omegaconf import DictConfig, OmegaConf

import modules
from search.cli import USER_ERRORS, exit_user_error, run
from search.cost import gflops, params
from search.placement import Site, apply, sites
from search.validate import check_inspect

SKIP = ("_target_", "_partial_", "key")  # the block config's keys that are not hyperparameters


def inspect(cfg: DictConfig) -> str:
    """The report for a composed ``conf/inspect.yaml``, as text."""
    model, imgsz = cfg.model.name, int(cfg.imgsz)
    layers = cfg.placement.layers
    chosen = sites(model, list(layers) if layers is not None else cfg.placement.name)
    blocks = {
        node.block.key: {k: v for k, v in OmegaConf.to_container(node.block).items() if k not in SKIP}
        for node in cfg.attn.values()
    }
    header = ["index", "section", "layer", "channels", "stride", "feeds strides"]
    for key in blocks:
        header += [f"{key} +params", f"{key} +MFLOPs"]
    rows = []
    for site in chosen:
        row = [site.index, site.section, site.module, site.channels, site.stride, ",".join(map(str, site.feeds)) or "-"]
        size = math.ceil(imgsz / site.stride)
        for key, hparams in blocks.items():
            block = modules.build(key, site.channels, **hparams)
            row += [f"{params(block):,}", f"{gflops(block, size, site.channels) * 1e3:.3g}"]
        rows.append(row)
    where = f"layers {list(layers)}" if layers is not None else f"placement {cfg.placement.name!r}"
    title = f"{model}, {where}, {imgsz}x{imgsz}: {len(chosen)} sites"
    return "\n\n".join([title, _table(header, rows), _table(*_totals(model, chosen, blocks, imgsz))])


def _totals(model: str, chosen: list[Site], blocks: dict[str, dict], imgsz: int) -> tuple[list[str], list[list]]:
    """Baseline versus the model with each block at every chosen site: parameters and GFLOPs."""
    header = ["model", "params", "GFLOPs", "Δ params", "Δ GFLOPs"]
    base = apply(model, {}).model
    p0, g0 = params(base), gflops(base, imgsz)
    rows = [["baseline", f"{p0:,}", f"{g0:.3f}", "", ""]]
    for key, hparams in blocks.items():
        net = apply(model, {site.index: (key, hparams) for site in chosen}).model
        p, g = params(net), gflops(net, imgsz)
        rows.append([f"{key} at all {len(chosen)}", f"{p:,}", f"{g:.3f}", f"{p / p0 - 1:+.2%}", f"{g / g0 - 1:+.2%}"])
    return header, rows


def _table(header: list[str], rows: list[list]) -> str:
    """Left-aligned text columns, numbers right-aligned."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    right = [all(c[:1].isdigit() or c[:1] in "+-" for c in col[1:] if c) for col in zip(*cells, strict=True)]
    return "\n".join(
        "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)).rstrip()
        for row in cells
    )


@hydra.main(version_base="1.3", config_path="pkg://search.conf", config_name="inspect")
def main(cfg: DictConfig) -> None:
    try:
        print(inspect(cfg))
    except USER_ERRORS as err:
        exit_user_error(err)


if __name__ == "__main__":
    run(main, config_name="inspect", validate=check_inspect)
