"""The exhaustive table's logic without training: its spaces, resumable builds, and the listing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import benchmarks.table as table
from benchmarks.fidelity import read_rows
from search import space

TINY = table.Space(("1", "2", "3"), ("se", "cbam"), 2)
HEADER = {"command": "python -m benchmarks.table build", "date": "2026-01-01", "settings": "s1", "data": "d"}


def fake_train(calls: list) -> Callable[[dict[int, str], int], dict]:
    """Deterministic numbers in place of a training: the metric grows with the blocks and the seed."""

    def train(blocks: dict[int, str], seed: int) -> dict:
        calls.append((tuple(sorted(blocks.items())), seed))
        value = 0.5 + 0.01 * len(blocks) + 0.001 * seed
        return {"seed": seed, "metric": value, "metric2": value, "curve": f"{value:.5f}", "epochs": 1, "images": 10,
                "train_s": 0.1, "gflops": 1.0 + len(blocks), "params": 7, "latency_ms": 1.5}  # fmt: skip

    return train


def test_the_spaces_hold_what_the_search_samples() -> None:
    single, pair = table.spaces()["single"], table.spaces()["pair"]
    assert len(single.sites) == 6 and len(set(single.blocks)) >= 8 and single.max_blocks == 1
    assert len(single.architectures()) == 1 + 6 * len(single.blocks)  # the baseline, one block at any site
    assert len(pair.sites) == 4 and len(pair.blocks) == 3 and set(pair.sites) <= set(single.sites)
    assert len(pair.architectures()) == 1 + 4 * 3 + 6 * 3 * 3  # baseline, one block, two blocks on two of 4 sites
    every = table.architectures()
    assert len(every) == len(single.architectures()) + 6 * 3 * 3 and next(iter(every)) == "{}"
    two = space.canonical({"21": ("cbam", {}), "12": ("psa", {})})
    assert table.key(two) in pair.architectures() and space.from_json(table.key(two)) == two


def test_build_appends_each_run_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    archs, path, calls = TINY.architectures(), tmp_path / "table.csv", []
    assert len(archs) == 1 + 3 * 2 + 3 * 2 * 2
    assert table.build(path, HEADER, fake_train(calls), archs, [5, 6], limit=4) == 4
    assert table.build(path, HEADER, fake_train(calls), archs, [5, 6]) == 2 * len(archs) - 4  # the rest only
    assert table.build(path, HEADER, fake_train(calls), archs, [5, 6]) == 0
    assert len(calls) == len(set(calls)) == 2 * len(archs)
    header, rows = read_rows(path)
    assert header == HEADER
    assert [r["repeat"] for r in rows] == ["0"] * len(archs) + ["1"] * len(archs)  # repeat 0 of all first
    assert [r["seed"] for r in rows] == [5] * len(archs) + [6] * len(archs)  # seed = trainer.seed + repeat
    assert {r["blocks"] for r in rows} == set(archs)
    assert all(r["arch"] == space.describe(space.from_json(r["blocks"])) for r in rows)
    assert rows[0]["arch"] == "baseline" and rows[-1]["latency_ms"] == "1.5"
    with pytest.raises(SystemExit, match="other settings"):
        table.build(path, {**HEADER, "settings": "s2"}, fake_train(calls), archs, [5, 6, 7])
    assert len(calls) == 2 * len(archs)


def test_cli_builds_with_the_protocol_and_lists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    monkeypatch.setattr(table, "spaces", lambda: {"tiny": TINY})
    calls: list = []
    settings = {k: v for k, v in HEADER.items() if k != "command"}
    monkeypatch.setattr(table, "protocol", lambda overrides: (settings, 3, fake_train(calls)))
    table.main(["build", "--repeats", "2", "--limit", "5", "trainer.lr0=0.001"])
    assert [seed for _, seed in calls] == [3] * 5
    header, _ = read_rows(tmp_path / "table.csv")
    assert header["command"] == "python -m benchmarks.table build trainer.lr0=0.001"
    capsys.readouterr()
    table.main(["list", "--repeats", "2"])
    out = capsys.readouterr().out
    assert "19 architectures, 5 of 38 runs done (2 repeats)" in out
    assert "tiny: 19 architectures" in out and "0 with all 2 repeats" in out


def test_shards_build_the_table_together_without_training_a_run_twice(tmp_path: Path) -> None:
    archs, path, calls = TINY.architectures(), tmp_path / "table.csv", []
    first = table.build(path, HEADER, fake_train(calls), archs, [5, 6], shard=(0, 2))
    second = table.build(path, HEADER, fake_train(calls), archs, [5, 6], shard=(1, 2))
    assert first == len(archs) and second == len(archs)  # 2 × 19 runs, split evenly
    assert len(calls) == len(set(calls)) == 2 * len(archs)
    assert table.build(path, HEADER, fake_train(calls), archs, [5, 6]) == 0
    with pytest.raises(SystemExit):
        table.main(["build", "--shard", "2/2"])  # argparse: K must be below N


def test_heatmap_maps_the_tables_single_blocks_with_holm(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    archs, path = TINY.architectures(), tmp_path / "table.csv"
    table.build(path, HEADER, fake_train([]), archs, [5, 6, 7])
    rows = read_rows(path)[1]
    for row in rows:  # cbam at site 2 adds noise around its +0.01: unresolved with 3 repeats
        if row["arch"].startswith("2:cbam"):
            row["metric"] += {5: 0.03, 6: -0.03, 7: 0.0}[row["seed"]]
    mapped = table.heatmap_rows(rows, TINY)
    assert len(mapped) == 3 * 2  # one block at one site; pairs and the baseline are not cells
    by = {next(f"{k[5:]}:{v}" for k, v in r.items() if k.startswith("site_")): r for r in mapped}
    assert by["1:se"]["delta"] == pytest.approx(0.01) and by["1:se"]["significant"]  # the same +0.01 at every seed
    assert by["2:cbam"]["delta"] == pytest.approx(0.01) and not by["2:cbam"]["significant"]
    table.RESULTS, old = tmp_path, table.RESULTS
    try:
        table.main(["heatmap", "--space", "single", "--out", str(tmp_path / "map.png")])
    finally:
        table.RESULTS = old
    assert (tmp_path / "map.png").stat().st_size > 0
    assert "block × site cells" in capsys.readouterr().out


def test_curves_show_which_sites_move_a_run_and_how_the_best_got_there() -> None:
    base = {"1": [0.50, 0.60], "2": [0.52, 0.62]}  # per repeat: the baseline's curve
    moved = {"1": ("se", {})}  # at site 1: each run's curve moves by 0.01, then by 0.03 or 0.05
    still = {"2": ("cbam", {})}  # at site 2: by 0.00001 at most
    runs = [({}, base["1"], base["2"]), (moved, [0.51, 0.63], [0.53, 0.67]), (still, [0.50, 0.60001], [0.52, 0.62001])]
    rows = [{"blocks": table.key(space.canonical(arch)), "repeat": r, "curve": c, "metric": c[-1]}
            for arch, *curves in runs for r, c in enumerate(curves)]  # fmt: skip
    sites, top = (text.splitlines()[2:] for text in table.curve_deltas(rows, TINY, top=1).split("\n\n"))
    assert sites == ["| 1 | 2 | 0.05000 | 0.04000 |", "| 2 | 2 | 0.00001 | 0.00001 |"]  # site 3: no run, no line
    assert len(top) == 1 and top[0].startswith("| 1:se(")
    assert top[0].endswith("| +0.0100 to +0.0100 | +0.0300 to +0.0500 |")  # epoch 1 alike, epoch 2 over repeats
