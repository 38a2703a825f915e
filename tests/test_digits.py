"""The embedded digits dataset: layout, determinism by seed, and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import runners.data.digits as digits
from runners import prepare_digits

TINY = {"n_train": 12, "n_val": 6, "imgsz": 64}


def _files(path: Path) -> dict[str, bytes]:
    """Every generated file's bytes, but data.yaml (it holds the absolute path)."""
    root = path.parent if path.suffix == ".yaml" else path
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.*")) if p.name != "data.yaml"}


def test_detection_layout_is_yolo_format(tmp_path: Path) -> None:
    data = prepare_digits(tmp_path, **TINY)
    config = yaml.safe_load(data.read_text())
    assert Path(config["path"]) == data.parent and data.parent.is_absolute()
    assert config["names"] == {i: str(i) for i in range(10)}
    for split, n in (("train", 12), ("val", 6)):
        images = sorted((data.parent / config[split]).glob("*.png"))
        labels = sorted((data.parent / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == n
        rows = [line.split() for f in labels for line in f.read_text().splitlines()]
        assert rows and all(0 <= int(r[0]) <= 9 and all(0 < float(v) <= 1 for v in r[1:]) for r in rows)


def test_classification_layout_is_an_image_folder(tmp_path: Path) -> None:
    root = prepare_digits(tmp_path, task="classify", **TINY)
    for split, n in (("train", 12), ("val", 6)):
        assert {p.name for p in (root / split).iterdir()} <= set(digits.NAMES)
        assert len(list((root / split).rglob("*.png"))) == n


@pytest.mark.parametrize("task", ["detect", "classify"])
def test_same_seed_same_bytes_other_seed_other_bytes(task: str, tmp_path: Path) -> None:
    a, b, c = (prepare_digits(tmp_path / str(i), task=task, seed=seed, **TINY) for i, seed in enumerate([0, 0, 1]))
    assert _files(a) == _files(b)
    assert _files(a) != _files(c)


def test_second_call_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = prepare_digits(tmp_path, **TINY)
    assert prepare_digits(tmp_path, **TINY, seed=3) != first  # keyed by the generation parameters
    monkeypatch.setattr(digits, "_write", lambda *args, **kwargs: pytest.fail("generated twice"))
    assert prepare_digits(tmp_path, **TINY) == first


def test_cache_root_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTNSEARCH_CACHE", str(tmp_path))
    assert prepare_digits(**TINY).parent.parent == tmp_path.resolve()


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="valid: detect, classify"):
        prepare_digits(task="segment")


def _heights(data: Path, split: str = "train") -> list[float]:
    """Every label's box height, as a fraction of the canvas's."""
    return [
        float(line.split()[4])
        for f in (data.parent / "labels" / split).glob("*.txt")
        for line in f.read_text().splitlines()
    ]


def test_sizes_set_the_digit_heights_and_the_default_keeps_its_cache(tmp_path: Path) -> None:
    small = prepare_digits(tmp_path, **TINY)
    assert prepare_digits(tmp_path, **TINY, sizes=digits.SIZES) == small  # the default spelled out: the same files
    large = prepare_digits(tmp_path, **TINY, sizes=(0.6, 0.9))
    assert large != small
    assert max(_heights(small)) <= 0.4 < min(_heights(large))  # a tight box is at most its paste's height
    assert max(_heights(large)) <= 0.9


@pytest.mark.parametrize("sizes", [(0.5, 0.2), (0.0, 0.5), (0.2, 1.5)])
def test_sizes_out_of_range_are_refused(tmp_path: Path, sizes: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="0 < low <= high <= 1"):
        prepare_digits(tmp_path, **TINY, sizes=sizes)
