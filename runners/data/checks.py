"""Resolve a user's dataset and refuse one ultralytics would silently thin out.

Ultralytics logs and skips corrupt images and treats images without a label file as background; a typo in a layout then
trains on nothing. Here every such file is an error that names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ultralytics.data.utils as data_utils
from ultralytics.data.utils import check_cls_dataset, check_det_dataset, img2label_paths

from runners.seams import classification_images, detection_images, image_problem, label_problem, no_font_download

_SHOWN = 10  # problems listed in one error


class DatasetError(ValueError):
    """A dataset that cannot be trained on as given; the message names the path and the files at fault."""


def detection_data(data: str | Path) -> dict[str, Any]:
    """Ultralytics' data dict of a dataset YAML or a YOLO-format folder, without downloading anything.

    A folder is either one with a data YAML inside or one with ``images/{train,val}`` and ``labels/{train,val}``,
    class names then coming from ``classes.txt`` (one per line) or, without it, from the largest class id.
    """
    path = Path(data).expanduser()
    if not path.exists():
        raise DatasetError(f"data {str(data)!r}: no such file or folder")
    if path.is_dir() and not any(path.glob("*.y*ml")) and (path / "images" / "train").is_dir():
        return _folder_data(path)
    try:
        with no_font_download():
            return check_det_dataset(str(path), autodownload=False)
    except Exception as e:  # ultralytics' message goes on with download hints on further lines
        raise DatasetError(f"data {str(data)!r}: {str(e).strip().splitlines()[0]}") from e


def check_detection_files(info: dict[str, Any], data: str | Path) -> None:
    """Raise unless the train and val splits of ``info`` (a detection data dict) hold images with label files.

    A cheap look before anything is built: the full per-file check runs when the datasets are built.
    """
    for split in ("train", "val"):
        sources = info[split] if isinstance(info[split], list) else [info[split]]
        images = [p for src in sources for p in _images(Path(src))]
        if not images:
            raise DatasetError(f"data {str(data)!r}: no images in its {split} split ({', '.join(map(str, sources))})")
        if not any(os.path.isfile(lb) for lb in img2label_paths([str(p) for p in images[:1000]])):
            raise DatasetError(
                f"data {str(data)!r}: no label files for the {split} images (YOLO format: labels/ beside images/)"
            )


def _images(source: Path) -> list[Path]:
    """The image files of a split given as a folder or as a text file listing them."""
    if source.is_dir():
        return [p for p in source.rglob("*") if p.suffix[1:].lower() in data_utils.IMG_FORMATS]
    if source.is_file() and source.suffix == ".txt":
        lines = [line.strip() for line in source.read_text().splitlines() if line.strip()]
        return [p for p in (source.parent / line for line in lines) if p.is_file()]
    return []


def classification_data(root: str | Path) -> dict[str, Any]:
    """Ultralytics' data dict of an image-folder dataset with ``train/`` and ``val/`` class subfolders."""
    path = Path(root).expanduser()
    if not (path / "train").is_dir() or not (path / "val").is_dir():
        raise DatasetError(f"data {str(root)!r}: expected an image folder with train/ and val/ class subfolders")
    return check_cls_dataset(path, split="val")


def check_detection_split(dataset: Any, split: str) -> None:
    """Raise if ultralytics dropped images of ``dataset`` (a YOLODataset) as corrupt or found no label file."""
    images, kept = detection_images(dataset)
    labels = img2label_paths(images)
    nc = len(dataset.data["names"])
    problems = [f"{lb}: label file missing" for lb in labels if not os.path.isfile(lb)]
    for im, lb in zip(images, labels, strict=True):
        if im not in kept and os.path.isfile(lb):  # dropped: ask ultralytics' own check why
            problems.append(label_problem(im, lb, nc))
    _raise(problems, split, "fix or remove them; an image without objects needs an empty label file")


def check_classification_split(dataset: Any, split: str) -> None:
    """Raise if ultralytics dropped images of ``dataset`` (a ClassificationDataset) as corrupt."""
    samples, kept = classification_images(dataset)
    problems = [problem for f, c in samples if f not in kept and (problem := image_problem((f, c)))]
    _raise(problems, split, "fix or remove them")


def _raise(problems: list[str], split: str, hint: str) -> None:
    """One error listing the first problems of a split."""
    if not problems:
        return
    more = f"\n  ... and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    listing = "\n  ".join(problems[:_SHOWN])
    raise DatasetError(f"{split} split: {len(problems)} unusable file(s) ({hint}):\n  {listing}{more}")


def _folder_data(root: Path) -> dict[str, Any]:
    """The data dict of a YOLO folder without a YAML."""
    if not (root / "images" / "val").is_dir():
        raise DatasetError(f"data {str(root)!r}: images/train found but no images/val")
    names_file = root / "classes.txt"
    if names_file.is_file():
        names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    else:
        rows = (row for f in (root / "labels").rglob("*.txt") for row in f.read_text().splitlines())
        ids = [int(float(row.split()[0])) for row in rows if row.strip()]
        if not ids:
            raise DatasetError(f"data {str(root)!r}: no labels under labels/ and no classes.txt")
        names = [str(i) for i in range(max(ids) + 1)]
    root = root.resolve()
    return {
        "path": root,
        "train": str(root / "images" / "train"),
        "val": str(root / "images" / "val"),
        "names": dict(enumerate(names)),
        "nc": len(names),
        "channels": 3,
    }
