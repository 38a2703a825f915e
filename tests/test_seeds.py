"""What ``trainer.seed`` fixes in a trial: the inserted blocks' initial weights (data order and augmentation follow
Lightning's ``seed_everything`` in the runner), so repeat k of every architecture starts alike."""

from __future__ import annotations

from pathlib import Path

import optuna
import torch

from runners import TrialResult
from search.evaluate import Evaluate


def _block_weights(seed: int, tmp_path: Path, draws: int) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}

    def fit(model: torch.nn.Module, **kwargs) -> TrialResult:
        torch.rand(100)  # whatever the runner draws, it happens after the blocks are built
        seen.update({k: v.clone() for k, v in model.state_dict().items() if ".attn." in k})
        return TrialResult({"map50_95": 0.5, "map50": 0.7}, 0.5, 1, 1.0, 1.0, False)

    evaluate = Evaluate("yolov8n.yaml", fit, None, 10, tmp_path, imgsz=64, early_stop=None, seed=seed)
    study = optuna.create_study(directions=["maximize", "minimize"])
    torch.rand(draws)  # the global generator's state before the trial differs between runs
    evaluate(study.ask(), {"21": ("cbam", {}), "15": ("se", {})}, [])
    assert seen, "no block parameters found"
    return seen


def test_block_initialisation_follows_the_seed(tmp_path: Path) -> None:
    first, again, other = (_block_weights(s, tmp_path / str(i), 10 + i) for i, s in enumerate((0, 0, 1)))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].numel() > 1)
