"""Our Lightning detection runner against ultralytics' own ``YOLO(...).train()``, like for like.

Both train the same initial weights on the same digits data with the same settings and seed, one after the other in
this process (who goes first alternates between seeds), over several seeds. Throughput counts training images per
second of training (validation excluded, as measured around ultralytics' own epoch callbacks); mAP50-95 is the last
epoch's validation of the EMA in both. Prints a markdown table.

Usage (from the repository root)::

    python -m benchmarks.runner_vs_ultralytics [--epochs 6] [--seeds 0 1 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from copy import deepcopy
from functools import partial
from pathlib import Path
from statistics import mean

os.environ.setdefault("YOLO_OFFLINE", "1")

import torch
from ultralytics import YOLO
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.torch_utils import init_seeds

from runners import TrainConfig, fit_detection, prepare_digits


def ultralytics_train(
    init: DetectionModel, data: Path, cfg: TrainConfig, device: str, tmp: Path
) -> tuple[float, float]:
    """Train a copy of ``init`` with ``YOLO.train``; return (images per second, final mAP50-95)."""
    weights = tmp / "init.pt"
    torch.save({"model": deepcopy(init)}, weights)
    yolo = YOLO(str(weights))
    clock = {"train": 0.0, "metrics": {}}

    def epoch_start(trainer) -> None:
        clock["start"] = time.perf_counter()

    def epoch_end(trainer) -> None:  # runs after the epoch's batches, before its validation
        clock["train"] += time.perf_counter() - clock["start"]

    def fit_epoch_end(trainer) -> None:  # final_eval calls it again at epoch + 1 with best.pt: keep the first
        clock["metrics"].setdefault(trainer.epoch, dict(trainer.metrics))

    yolo.add_callback("on_train_epoch_start", epoch_start)
    yolo.add_callback("on_train_epoch_end", epoch_end)
    yolo.add_callback("on_fit_epoch_end", fit_epoch_end)
    yolo.train(
        data=str(data), device=device, project=str(tmp), name="ultralytics", exist_ok=True, deterministic=False,
        **cfg.ultralytics_overrides(),
    )  # fmt: skip
    images = len(yolo.trainer.train_loader.dataset) * cfg.epochs
    return images / clock["train"], clock["metrics"][cfg.epochs - 1]["metrics/mAP50-95(B)"]


def runner_train(init: DetectionModel, data: Path, cfg: TrainConfig) -> tuple[float, float]:
    """Train a copy of ``init`` with ``fit_detection``; return (images per second, final mAP50-95)."""
    result = fit_detection(deepcopy(init), data, cfg)
    return result.images_per_s, result.primary


def main() -> None:
    """Run both trainers per seed and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="yolov8n.yaml")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-val", type=int, default=100)
    parser.add_argument("--device", default="cpu", help="ultralytics device; our runner uses Lightning's accelerator")
    opt = parser.parse_args()

    data = prepare_digits(n_train=opt.n_train, n_val=opt.n_val, imgsz=opt.imgsz)
    accelerator = "cpu" if opt.device == "cpu" else "gpu"
    rows = []
    for seed in opt.seeds:
        cfg = TrainConfig(  # from scratch: the from-scratch lr and a warm-up epoch, not the trials' fine-tuning recipe
            epochs=opt.epochs, imgsz=opt.imgsz, batch=opt.batch, seed=seed, accelerator=accelerator,
            lr0=0.002, warmup_epochs=1.0,
        )  # fmt: skip
        init_seeds(seed)
        init = DetectionModel(opt.model, nc=10, verbose=False)
        with tempfile.TemporaryDirectory() as tmp:
            runs = {
                "ultralytics": partial(ultralytics_train, init, data, cfg, opt.device, Path(tmp)),
                "runner": partial(runner_train, init, data, cfg),
            }
            order = list(runs) if len(rows) % 2 == 0 else list(runs)[::-1]  # alternate who goes first
            results = {name: runs[name]() for name in order}
        (ul_speed, ul_map), (our_speed, our_map) = results["ultralytics"], results["runner"]
        rows.append((seed, ul_speed, our_speed, ul_map, our_map))

    print(f"\n{opt.model}, digits {opt.n_train}/{opt.n_val} at imgsz {opt.imgsz}, batch {opt.batch}, "
          f"{opt.epochs} epochs, device {opt.device}\n")  # fmt: skip
    print("| seed | ultralytics img/s | runner img/s | ratio | ultralytics mAP50-95 | runner mAP50-95 |")
    print("|---:|---:|---:|---:|---:|---:|")
    means = ("mean", *(mean(row[i] for row in rows) for i in range(1, 5)))
    for name, ul_speed, our_speed, ul_map, our_map in [*rows, means]:
        ratio = our_speed / ul_speed
        print(f"| {name} | {ul_speed:.1f} | {our_speed:.1f} | {ratio:.2f} | {ul_map:.4f} | {our_map:.4f} |")


if __name__ == "__main__":
    main()
