"""Which output levels of the trained baseline detect? Per level of the detection head (P3 at stride 8, P4 at 16, P5
at 32), on the validation split: the anchors whose best class score passes ``--conf`` and the boxes that NMS keeps.

A block changes a trial's score only through levels that detect: on the default digits data the exhaustive table
finds every neck site on the P4/P5 paths inert (README, Search efficiency), and this measures why.

Usage (from the repository root; the cached baseline, trained first if missing)::

    python -m benchmarks.levels [--conf 0.25] [--iou 0.7] [overrides]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ultralytics.data.utils import IMG_FORMATS, img2label_paths

from benchmarks import fidelity
from benchmarks.fidelity import TASKS
from runners.data.checks import detection_data
from runners.levels import CONF, IOU, head_levels
from search.placement import apply


def object_heights(data: Path) -> list[float]:
    """Every validation label's box height, as a fraction of its image's (YOLO label files beside the images)."""
    info = detection_data(data)
    images = (p for p in Path(info["path"], info["val"]).rglob("*") if p.suffix[1:].lower() in IMG_FORMATS)
    labels = (Path(p) for p in img2label_paths([str(i) for i in images]))
    return [float(row.split()[4]) for f in labels if f.is_file() for row in f.read_text().splitlines() if row.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", type=float, default=CONF, help="class score threshold (ultralytics' predict default)")
    parser.add_argument("--iou", type=float, default=IOU, help="NMS IoU threshold (ultralytics' default)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the search config (model, data, baseline)")
    args = parser.parse_args(argv)
    setup = fidelity.protocol(TASKS["detect"], args.overrides)
    model = apply(setup.task.model, {}, setup.weights, nc=setup.task.nc).model
    levels = head_levels(model, setup.data, setup.settings, args.conf, args.iou)
    heights = sorted(object_heights(setup.data))
    print(f"baseline {setup.weights} on the validation images of {setup.data}; object height as a fraction "
          f"of the image's: median {heights[len(heights) // 2]:.2f}, largest {heights[-1]:.2f}")  # fmt: skip
    print(f"| level | stride | anchors scoring > {args.conf} | boxes kept by NMS (IoU {args.iou}) |")
    print("|---|---:|---:|---:|")
    for stride, (above, kept) in levels.items():
        print(f"| P{int(math.log2(stride))} | {stride} | {above} | {kept} |")


if __name__ == "__main__":
    main()
