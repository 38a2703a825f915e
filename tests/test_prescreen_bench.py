"""Pre-screening signals on toy models with known gradients, and their correlation report on a synthetic table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import benchmarks.prescreen as prescreen
from benchmarks import fidelity, table
from modules.gate import ResidualGate
from runners import TrainConfig, prepare_digits
from search import space
from search.placement import apply


def toy(gated: bool = True) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A 1×1 conv behind a residual gate (or alone), an input and the weights of a linear loss."""
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 2, 1)
    model = nn.Sequential(nn.Identity(), ResidualGate(conv) if gated else conv)
    return model, torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)


def test_gate_signals_are_the_gradient_and_fisher_of_the_branch() -> None:
    model, x, w = toy()
    conv = model[1].block
    loss = lambda batch: (model(batch["img"]) * w).sum()  # noqa: E731  # ∂L/∂y = w
    out = prescreen.gate_statistics(model, [{"img": x}, {"img": 2 * x}], loss)
    with torch.no_grad():
        branches = [conv(x) - x, conv(2 * x) - 2 * x]
    grads = [float((z * w).sum()) for z in branches]  # ∂L/∂γ = Σ (f(x) − x)·∂L/∂y
    fishers = [0.5 * float((z * w).sum((2, 3)).pow(2).sum(1).mean()) for z in branches]
    assert out["gate_grad"] == pytest.approx(-(grads[0] + grads[1]) / 2)
    assert out["fisher"] == pytest.approx((fishers[0] + fishers[1]) / 2)
    assert out["fisher"] > 0 and not [h for m in model.modules() for h in m._forward_hooks.values()]  # hooks removed


def test_without_gates_the_gate_signals_are_zero() -> None:
    model, x, w = toy(gated=False)
    loss = lambda batch: (model(batch["img"]) * w).sum()  # noqa: E731
    assert prescreen.gate_statistics(model, [{"img": x}], loss) == {"gate_grad": 0.0, "fisher": 0.0}


def test_train_only_moves_the_given_parameters_and_lowers_the_loss() -> None:
    model, x, w = toy()
    model[0] = nn.Conv2d(2, 2, 1)  # a network weight outside the block: must not move
    loss = lambda batch: (model(batch["img"]) * w).sum()  # noqa: E731
    outside = model[0].weight.clone()
    before = prescreen.held_loss([{"img": x}], loss)
    prescreen.train_only(list(model[1].parameters()), [{"img": x}] * 5, loss, lr=0.05)
    assert prescreen.held_loss([{"img": x}], loss) < before  # a linear loss falls as the gate opens the right way
    assert model[1].gamma.item() != 0 and torch.equal(model[0].weight, outside)


def test_costs_count_the_images_each_signal_passes_through_the_network() -> None:
    assert prescreen.costs(8, 4, 8, 16) == {"gate_grad": 128, "fisher": 128, "disruption": 64, "loss_drop": 256}


def test_frozen_statistics_keeps_batchnorm_running_stats() -> None:
    model = prescreen.frozen_statistics(nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)))
    mean = model[1].running_mean.clone()
    model(torch.randn(4, 2, 3, 3) + 5)
    assert model.training and not model[1].training and torch.equal(model[1].running_mean, mean)


def write_table(path: Path, archs: list[dict], deltas: list[list[float]]) -> None:
    """A table CSV: the baseline at 0.5 + r/100 per repeat r, each other architecture at that plus its Δ."""
    header = {"command": "t", "settings": "s", "data": "d", "baseline_metric": "0.5"}
    fidelity.open_results(path, header, table.FIELDS)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, table.FIELDS, restval="0")
        for arch, ds in zip(archs, deltas, strict=True):
            for r, d in enumerate(ds):
                writer.writerow({"arch": space.describe(arch), "blocks": table.key(arch), "repeat": r, "seed": r,
                                 "metric": 0.5 + r / 100 + d, "curve": "0.5", "gflops": 1 + len(arch),
                                 "params": 10 + 5 * len(arch), "images": 1280})  # fmt: skip


def test_report_correlates_each_signal_with_the_tables_paired_delta(tmp_path: Path) -> None:
    archs = [{}, *({str(s): (b, {})} for s in (12, 15) for b in ("se", "cbam", "psa"))]
    deltas = [[0.0, 0.0, 0.0], *([d, d + 0.001, d - 0.001] for d in (0.01, -0.02, 0.03, 0.0, -0.01, 0.02))]
    table_path, signal_path = tmp_path / "table.csv", tmp_path / "prescreen.csv"
    write_table(table_path, archs, deltas)
    write_signals(signal_path, archs, [[ds[0] * 10, -ds[0], (i * 7) % 5, i % 3] for i, ds in enumerate(deltas)])
    text = prescreen.report(signal_path, table_path)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "τ" not in line}
    assert "| gate_grad | 32 (2.5%) | +1.000 | [+1.000, +1.000] |" in rows["gate_grad"]  # monotone in Δ
    assert "| fisher | 32 (2.5%) | -1.000 |" in rows["fisher"] and "| loss_drop | 128 (10.0%) |" in rows["loss_drop"]
    assert rows["gflops"].endswith("| — |")  # GFLOPs cannot be controlled for itself
    assert "7 architectures" in text and "over 3 repeats" in text and "a trial trains on 1280 images" in text
    assert "ceiling: τ of one repeat's Δ with the others' mean, per repeat: +1.000, +1.000, +1.000" in text
    assert "best signal beyond GFLOPs: gate_grad (partial τ +1.000), which adds information" in text
    signal_path.unlink()
    weak = [
        [0, 1, 2, 2, 1, 0, 0],
        [0, 1, 0, 1, 0, 1, 0],
        [0, 3, 1, 0, 2, 2, 1],
        [0, 1, 0, 1, 0, 1, 0],
    ]  # partial τ ≤ 0.25
    write_signals(signal_path, archs, [list(row) for row in zip(*weak, strict=True)])
    assert "which does not add information beyond GFLOPs" in prescreen.report(signal_path, table_path)


def write_signals(path: Path, archs: list[dict], values: list[list[float]]) -> None:
    """A prescreen CSV with each architecture's gate_grad, fisher and loss_drop."""
    costs = prescreen.costs(1, 1, 2, 32)  # 32, 32, 32 and 128 images
    header = {"command": "p", "settings": "s", "data": "d", "images": json.dumps(costs)}
    fidelity.open_results(path, header, prescreen.FIELDS)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, prescreen.FIELDS)
        for arch, row in zip(archs, values, strict=True):
            signals = dict(zip(prescreen.SIGNALS, row, strict=True))
            writer.writerow({"arch": space.describe(arch), "blocks": table.key(arch), **signals, "seconds": 1})


def test_signals_of_a_real_detector_and_a_resumable_measure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = prepare_digits(tmp_path / "data", n_train=8, n_val=4, imgsz=64)
    settings = TrainConfig(epochs=1, imgsz=64, batch=4, lr0=1e-3, warmup_epochs=0.0, seed=3)
    header = {"date": "d", "settings": "s", "data": "d", "baseline_metric": "0.1"}
    torch.manual_seed(0)
    weights = apply("yolov8n.yaml", {}, nc=10).model  # a baseline every architecture starts from, its BatchNorm
    for m in weights.modules():  # statistics calibrated: at the random ones a random network's loss barely moves
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        weights.train()(torch.rand(8, 3, 64, 64))
    setup = fidelity.Protocol(fidelity.TASKS["detect"], settings, data, weights, 20.0, False, header)
    monkeypatch.setattr(fidelity, "protocol", lambda task, overrides: setup)
    run = prescreen.screen([], batches=2, held=1, steps=2)
    assert len(run.batches) == 2 and len(run.held) == 1 and run.batches[0]["img"].dtype == torch.float32
    assert run.signals({}) == dict.fromkeys(prescreen.SIGNALS, 0.0)
    first = run.signals({12: "cbam"})
    assert first == run.signals({12: "cbam"})  # the same batches and block initialisation: deterministic
    assert first["gate_grad"] != 0 and first["fisher"] > 0 and first["disruption"] != 0  # ungated: it moves the loss
    path = tmp_path / "prescreen.csv"
    archs = {table.key(a): a for a in ({}, {"12": ("cbam", {})})}
    full = {**header, "images": json.dumps(prescreen.costs(2, 1, 2, 4))}
    assert prescreen.measure(path, full, run, archs) == 2 and prescreen.measure(path, full, run, archs) == 0
    with pytest.raises(SystemExit, match="other --batches"):
        prescreen.measure(path, {**full, "images": "{}"}, run, archs)
