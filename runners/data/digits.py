"""The embedded default dataset: scikit-learn's handwritten digits on cluttered, noisy canvases.

``sklearn.datasets.load_digits`` ships 1,797 real 8×8 scans of handwritten digits (UCI ML hand-written digits, 10
classes) inside the wheel, so the dataset is generated offline on first use: each scan is upsampled to a random size and
aspect, tinted and pasted at a random position on a canvas with a coloured gradient, line and shape clutter and noise.
Train and val canvases draw from disjoint scans. The result is written once to a cache directory keyed by the
generation parameters, in YOLO format (detection) or as an image folder (classification).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import yaml

VERSION = 2  # bump when the generator changes, so caches of older outputs are not reused
NAMES = [str(d) for d in range(10)]
CLUTTER = {"detect": (2, 7), "classify": (0, 3)}  # shapes per canvas: fewer around one small digit
SIZES = (0.12, 0.4)  # a detection digit's height as a fraction of the canvas's, drawn uniformly in this range
DEFAULTS = {  # task: (n_train, n_val, imgsz)
    "detect": (400, 300, 160),
    "classify": (1000, 300, 32),
}


def cache_root() -> Path:
    """``$ATTNSEARCH_CACHE`` or ``~/.cache/attnsearch``."""
    return Path(os.environ.get("ATTNSEARCH_CACHE") or Path.home() / ".cache" / "attnsearch")


def prepare_digits(
    root: str | Path | None = None,
    *,
    task: str = "detect",
    n_train: int | None = None,
    n_val: int | None = None,
    imgsz: int | None = None,
    seed: int = 0,
    max_digits: int = 4,
    sizes: tuple[float, float] | list[float] = SIZES,
) -> Path:
    """Generate the digits dataset once and return where it is.

    Args:
        root: Cache directory; ``cache_root()`` when None.
        task: ``"detect"`` (YOLO format, several digits per canvas) or ``"classify"`` (image folder, one digit).
        n_train: Training images (default 400 detect, 1000 classify).
        n_val: Validation images (default 300 detect, 300 classify).
        imgsz: Canvas side in pixels (default 160 detect, 32 classify).
        seed: Seed of every random draw: the same arguments give the same files.
        max_digits: Most digits on one detection canvas.
        sizes: (low, high): a detection digit's height as a fraction of the canvas's, drawn uniformly between them;
            the default keeps every digit small enough that yolov8n detects it on its stride-8 level alone.

    Returns:
        The ``data.yaml`` path (detect) or the image-folder root with ``train/`` and ``val/`` (classify).
    """
    if task not in DEFAULTS:
        raise ValueError(f"unknown digits task {task!r}; valid: {', '.join(DEFAULTS)}")
    low, high = (float(v) for v in sizes)
    if not 0 < low <= high <= 1:
        raise ValueError(f"digit sizes must satisfy 0 < low <= high <= 1, got {list(sizes)}")
    d_train, d_val, d_imgsz = DEFAULTS[task]
    params = {
        "task": task,
        "n_train": n_train or d_train,
        "n_val": n_val or d_val,
        "imgsz": imgsz or d_imgsz,
        "seed": seed,
        "max_digits": max_digits,
        "version": VERSION,
        **({"sizes": [low, high]} if (low, high) != SIZES else {}),  # absent at the default: older caches stay valid
    }
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    final = Path(root or cache_root()).expanduser().resolve() / f"digits-{task}-{key}"
    result = final / "data.yaml" if task == "detect" else final
    if final.is_dir():
        return result
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        _write(tmp, final, **params)
        tmp.rename(final)  # atomic: a concurrent writer that lost the race just discards its copy
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _write(out: Path, final: Path, *, task: str, n_train: int, n_val: int, imgsz: int, seed: int, **params) -> None:
    """Write both splits under ``out``; ``final`` is where ``out`` will be renamed to (for the data.yaml path)."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    scans, labels = load_digits(return_X_y=True)
    order = rng.permutation(len(labels))
    n_val_scans = len(labels) // 5
    pools = {"val": order[:n_val_scans], "train": order[n_val_scans:]}
    for split, n in (("train", n_train), ("val", n_val)):
        pool = pools[split]
        for i in range(n):
            canvas = _background(rng, imgsz, shapes=CLUTTER[task])
            if task == "classify":
                j = pool[i % len(pool)]
                _paste(rng, canvas, scans[j], size=rng.uniform(0.7, 0.95) * imgsz)
                _imwrite(out / split / NAMES[labels[j]] / f"{i:05d}.png", canvas)
                continue
            rows = []
            for j in rng.choice(pool, size=rng.integers(1, params["max_digits"] + 1)):
                box = _paste(rng, canvas, scans[j], size=rng.uniform(*params.get("sizes", SIZES)) * imgsz, avoid=rows)
                if box is not None:
                    rows.append((labels[j], *box))
            _imwrite(out / "images" / split / f"{i:05d}.png", canvas)
            label = out / "labels" / split / f"{i:05d}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in rows))
    if task == "detect":
        data = {"path": str(final), "train": "images/train", "val": "images/val", "names": dict(enumerate(NAMES))}
        (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _imwrite(path: Path, image: np.ndarray) -> None:
    """Write an image, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def _background(rng: np.random.Generator, imgsz: int, shapes: tuple[int, int]) -> np.ndarray:
    """A colour gradient with ``shapes`` (low, high) random lines, rectangles and circles, plus noise (BGR uint8)."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0, 1, imgsz)[:, None, None]
    canvas = (c0 * (1 - t) + c1 * t) * np.ones((1, imgsz, 1))
    canvas = np.ascontiguousarray(np.rot90(canvas, k=rng.integers(4)), dtype=np.float32)
    for _ in range(rng.integers(*shapes)):
        color = rng.uniform(0, 255, 3).tolist()
        p, q = (tuple(int(v) for v in rng.integers(0, imgsz, 2)) for _ in range(2))
        shape = rng.integers(3)
        if shape == 0:
            cv2.line(canvas, p, q, color, int(rng.integers(1, 3)))
        elif shape == 1:
            cv2.rectangle(canvas, p, q, color, int(rng.integers(1, 3)))
        else:
            cv2.circle(canvas, p, int(rng.integers(2, imgsz // 6)), color, int(rng.integers(1, 3)))
    canvas += rng.normal(0, rng.uniform(3, 15), canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _paste(
    rng: np.random.Generator,
    canvas: np.ndarray,
    scan: np.ndarray,
    size: float,
    avoid: list[tuple[float, ...]] = (),
    tries: int = 10,
) -> tuple[float, float, float, float] | None:
    """Blend an 8×8 scan into ``canvas`` at a random place; return its tight normalised xywh box.

    A place overlapping a box in ``avoid`` by more than 30% of the smaller one is redrawn up to ``tries`` times; None
    when no place was found (nothing is drawn then).
    """
    imgsz = canvas.shape[0]
    h = min(max(int(size), 8), imgsz)
    w = min(max(int(size * rng.uniform(0.75, 1.1)), 8), imgsz)
    alpha = cv2.resize((scan.reshape(8, 8) / 16).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    alpha = np.clip(alpha, 0, 1)
    ys, xs = np.nonzero(alpha > 0.25)
    for _ in range(tries):
        x0, y0 = int(rng.integers(0, imgsz - w + 1)), int(rng.integers(0, imgsz - h + 1))
        box = np.array([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1]) / imgsz
        if all(_overlap(box, np.array(other[1:])) < 0.3 for other in avoid):
            break
    else:
        return None
    region = canvas[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    mean = region.reshape(-1, 3).mean(0)
    color = np.where(mean > 127, rng.uniform(0, 90, 3), rng.uniform(165, 255, 3))  # contrast with what is under it
    a = alpha[..., None]
    canvas[y0 : y0 + h, x0 : x0 + w] = np.clip(region * (1 - a) + color * a, 0, 255).astype(np.uint8)
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1


def _overlap(xyxy: np.ndarray, xywh: np.ndarray) -> float:
    """Intersection of two boxes over the area of the smaller one."""
    other = np.concatenate([xywh[:2] - xywh[2:] / 2, xywh[:2] + xywh[2:] / 2])
    iw = max(0.0, min(xyxy[2], other[2]) - max(xyxy[0], other[0]))
    ih = max(0.0, min(xyxy[3], other[3]) - max(xyxy[1], other[1]))
    smaller = min((xyxy[2] - xyxy[0]) * (xyxy[3] - xyxy[1]), xywh[2] * xywh[3])
    return iw * ih / smaller
