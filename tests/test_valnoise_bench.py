"""The validation-split bootstrap of benchmarks/valnoise.py on hand-made statistics and a tiny untrained model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks import fidelity
from benchmarks.valnoise import bootstrap, map50_95, measure_reference, reference_pairs, report
from runners import TrainConfig, prepare_digits
from runners.detect import validation_stats
from search.placement import apply


def _image(hit: bool) -> dict[str, np.ndarray]:
    """One image with one box of class 0 and one prediction of it, matched at every IoU threshold or at none."""
    return {"tp": np.full((1, 10), hit), "conf": np.array([0.9]), "pred_cls": np.array([0.0]),
            "target_cls": np.array([0.0]), "target_img": np.array([0.0])}  # fmt: skip


def _stats(hits: list[bool]) -> dict[str, list[np.ndarray]]:
    images = [_image(h) for h in hits]
    return {k: [i[k] for i in images] for k in images[0]}


def test_map_over_chosen_images_counts_repeats() -> None:
    stats = _stats([True, False])
    assert map50_95(stats, [0]) == pytest.approx(1.0, abs=0.01)  # ultralytics' interpolated AP of one hit
    assert map50_95(stats, [1]) == 0.0
    assert map50_95(stats, [0, 0, 1]) > map50_95(stats, [0, 1]) > map50_95(stats, [0, 1, 1])


def test_differences_are_paired_over_the_same_resamples() -> None:
    half = _stats([True, False] * 10)
    boot = bootstrap({"a": half, "b": half, "all": _stats([True] * 20)}, resamples=200, seed=0)
    assert np.all(boot["a"]["draws"] == boot["b"]["draws"])  # a model against itself: Δ 0 on every resample
    assert boot["a"]["draws"].std() > 0.05 and boot["all"]["draws"].std() < 1e-12  # only mixed outcomes vary
    every = _stats([True] * 20)
    text = report({"start": half, "baseline": half, "x": every}, resamples=200, seed=0)
    assert "20 validation images (20 boxes)" in text
    delta = map50_95(every, range(20)) - map50_95(half, range(20))  # every box found, against half of them
    assert delta > 0.3 and f"| x | {delta:+.4f} | " in text


def test_validation_stats_have_one_entry_per_image(tmp_path: Path) -> None:
    data = prepare_digits(tmp_path, n_train=4, n_val=5, imgsz=64)
    stats = validation_stats(apply("yolov8n.yaml", {}, nc=10).model, data, TrainConfig(imgsz=64, batch=2))
    assert {k: len(v) for k, v in stats.items() if k in ("tp", "conf", "target_cls")} == dict.fromkeys(
        ("tp", "conf", "target_cls"), 5
    )
    assert sum(len(t) for t in stats["target_cls"]) == sum(
        len(f.read_text().splitlines()) for f in (data.parent / "labels" / "val").glob("*.txt")
    )


def test_reference_pairs_bootstrap_seed_and_paired_differences() -> None:
    models = ["baseline seed 0", "baseline seed 1", "se@15+cbam@21 seed 0", "se@15+cbam@21 seed 1", "eca@15 seed 1"]
    assert reference_pairs(models) == [
        ("baseline seed 1 − baseline seed 0", "baseline seed 1", "baseline seed 0"),
        ("se@15+cbam@21 seed 1 − se@15+cbam@21 seed 0", "se@15+cbam@21 seed 1", "se@15+cbam@21 seed 0"),
        ("se@15+cbam@21 seed 0 − baseline", "se@15+cbam@21 seed 0", "baseline seed 0"),
        ("se@15+cbam@21 seed 1 − baseline", "se@15+cbam@21 seed 1", "baseline seed 1"),
        ("eca@15 seed 1 − baseline", "eca@15 seed 1", "baseline seed 1"),
    ]
    assert reference_pairs(["eca@15 seed 0"]) == []  # no baseline at that seed: nothing to pair with


def test_reference_models_are_validated_on_a_larger_split_that_starts_with_the_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = []
    task = replace(fidelity.TASKS["detect"], fit=lambda model, data, cfg: trained.append((data, cfg.seed, cfg.epochs)))
    monkeypatch.setitem(fidelity.TASKS, "detect", task)
    tiny = [f"data.root={tmp_path}", "data.n_train=4", "data.n_val=3", "data.imgsz=64", "trainer.imgsz=64"]
    splits = measure_reference(["eca@15"], [0, 1], 6, tiny)
    small, big = splits.values()
    assert list(splits) == ["the split (3 images)", "6 validation images"]
    assert list(small) == list(big) == ["baseline seed 0", "baseline seed 1", "eca@15 seed 0", "eca@15 seed 1"]
    assert [(s, e) for _, s, e in trained] == [(0, 30), (1, 30)] * 2  # from scratch, the reference's 30 epochs
    split = prepare_digits(tmp_path, n_train=4, n_val=3, imgsz=64)
    assert all(data == split for data, _, _ in trained)  # trained on the split's data, not the larger one's
    labels = [len(t) for t in small["baseline seed 0"]["target_cls"]]
    assert [len(t) for t in big["baseline seed 0"]["target_cls"]][:3] == labels and len(big["eca@15 seed 0"]["tp"]) == 6
