"""Inserted blocks can learn faster than the trained weights: ``search.block_lr_mult`` through the runner's recipe."""

from __future__ import annotations

import torch

from modules import ResidualGate
from runners import TrainConfig
from runners.module import scale_marked
from runners.seams import training_recipe
from search.evaluate import Evaluate, mark_blocks
from search.placement import apply


def test_marked_parameters_get_their_own_scaled_groups() -> None:
    a, b, c = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    b.lr_mult = 10.0
    optimizer = torch.optim.SGD(
        [{"params": [a, b], "weight_decay": 0.1, "param_group": "weight"}, {"params": [c]}], 0.01
    )
    scale_marked(optimizer)
    groups = [(g["params"], g["lr"], g["weight_decay"], g.get("param_group")) for g in optimizer.param_groups]
    assert groups == [([a], 0.01, 0.1, "weight"), ([c], 0.01, 0, None), ([b], 0.1, 0.1, "weight")]


def test_blocks_train_at_the_multiplied_rate_through_warm_up_and_schedule() -> None:
    placed = apply("yolov8n.yaml", {15: "se", 21: "cbam"}, identity_init=True, nc=10)
    marked = mark_blocks(placed.model, 20.0)
    gate_params = {id(p) for n, p in placed.model.named_parameters() if ".attn." in n}
    assert marked == len(gate_params) > 0
    cfg = TrainConfig(lr0=0.001)
    args = cfg.ultralytics_args(task="detect")
    recipe = training_recipe(  # as TrialModule.setup builds it
        placed.model, args, {"nc": 10}, epochs=3, batches=25, decay=5e-4, iterations=75, regroup=scale_marked
    )
    for group in recipe.optimizer.param_groups:
        inside = {id(p) in gate_params for p in group["params"]}
        assert len(inside) <= 1, "a group mixes block and baseline parameters"
        expected = 0.001 * (20.0 if inside == {True} else 1.0)
        assert group["initial_lr"] == expected  # what the schedule and ultralytics' warm-up scale from
    assert sum(len(g["params"]) for g in recipe.optimizer.param_groups) == len(list(placed.model.parameters()))
    assert mark_blocks(apply("yolov8n.yaml", {15: "se"}, identity_init=True).model, 1.0) == 0  # 1.0: nothing marked


def test_ungated_blocks_are_marked_and_a_models_own_modules_are_not() -> None:
    placed = apply("yolov8n.yaml", {15: "se", 21: "psa"}, identity_init=False, nc=10)
    assert not any(isinstance(m, ResidualGate) for m in placed.model.modules())
    block_params = {id(p) for n, p in placed.model.named_parameters() if ".attn." in n}
    assert mark_blocks(placed.model, 5.0) == len(block_params) > 0
    assert {id(p) for p in placed.model.parameters() if getattr(p, "lr_mult", None) == 5.0} == block_params
    native = apply("yolo11n.yaml", {}, nc=10).model  # its C2PSA holds ultralytics' PSABlock, a parent of no zoo class
    assert any("PSA" in type(m).__name__ for m in native.modules())
    assert mark_blocks(native, 5.0) == 0


def test_a_gated_or_ungated_trial_starts_from_the_baseline_weights(tmp_path) -> None:
    baseline = apply("yolov8n.yaml", {}, nc=10).model
    weights = tmp_path / "baseline.pt"
    torch.save(baseline.state_dict(), weights)
    x = torch.rand(1, 3, 64, 64)
    expected = baseline.eval()(x)[0]
    for gate in (True, False):
        evaluate = Evaluate("yolov8n.yaml", lambda *a, **k: None, weights, 10, tmp_path, imgsz=64, gate=gate)
        model = evaluate._place({15: ("se", {})}, 0).model.eval()
        assert any(isinstance(m, ResidualGate) for m in model.modules()) == gate
        same = torch.equal(model(x)[0], expected)  # random weights: outputs are near-constant, so exactly
        assert same == gate  # gated: exactly the baseline; ungated: the block is on the data path from the start
