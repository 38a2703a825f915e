"""A fake training for tests of runs in spawned processes: importable without torch, so a worker starts in a second."""

from __future__ import annotations

import os


def train(blocks: dict, seed: int, fail: dict | None = None) -> dict:
    """A fidelity row of one training; the pid it ran in as its ``params``; ``fail``'s blocks raise instead."""
    if blocks == fail:
        raise ValueError(f"{blocks} diverged")
    return {"seed": seed, "metric": 0.5, "metric2": 0.5, "curve": "0.5", "epochs": 1, "images": 10, "train_s": 0.0,
            "gflops": 1.0, "params": os.getpid()}  # fmt: skip
