"""Inserted blocks can learn faster than the trained weights: ``search.block_lr_mult`` through the runner's recipe."""

from __future__ import annotations

import torch

from runners import TrainConfig
from runners.module import scale_marked
from runners.seams import training_recipe
from search.evaluate import mark_blocks
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
