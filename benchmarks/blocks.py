"""Cost of every registered block at C=256, 40×40, batch 8 on CPU, ours against the article's implementation.

    python benchmarks/blocks.py                  # every block, one thread, median of 7 runs after 1 warm-up
    python benchmarks/blocks.py --keys soca --repeats 20 --threads 2

Prints a markdown table: forward+backward wall time in train mode (median of ``--repeats`` runs, ours and the article's
interleaved in one process), the article's time over ours, and our parameters and forward GFLOPs per image
(``torch.utils.flop_counter``: matrix products and convolutions, 2 FLOPs per multiply-add). The article's code is the
oracle under ``tests/oracles/`` (ultralytics' ``PSA`` for yolo_psa), built with our hyperparameters where it has them;
"—" where the article has no code or its oracle is missing. One thread by default: on a shared machine, timings with
several threads mostly measure OpenMP threads waiting at barriers for a core another process holds.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import modules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

CHANNELS, SIZE, BATCH = 256, 40, 8

# key -> (module, class, keyword arguments for C channels): the article's implementation with our default
# hyperparameters where it has them (danet and ccnet have no article code).
ARTICLE: dict[str, tuple[str, str, Callable[[int], dict[str, Any]]]] = {
    "se": ("oracles.se", "SEAttention", lambda c: {"channel": c, "reduction": 16}),
    "cbam": ("oracles.cbam", "CBAMBlock", lambda c: {"channel": c, "reduction": 16, "kernel_size": 7}),
    "bam": ("oracles.bam", "BAMBlock", lambda c: {"channel": c, "reduction": 16, "dia_val": 4}),
    "eca": ("oracles.eca", "ECAAttention", lambda c: {"kernel_size": modules.build("eca", c).conv.kernel_size[0]}),
    "shuffle": ("oracles.shuffle", "ShuffleAttention", lambda c: {"channel": c, "reduction": 16, "G": 64}),
    "psa": ("oracles.psa", "ParallelPolarizedSelfAttention", lambda c: {"channel": c}),
    "psa_seq": ("oracles.psa", "SequentialPolarizedSelfAttention", lambda c: {"channel": c}),
    "sge": ("oracles.sge", "SpatialGroupEnhance", lambda c: {"groups": 64}),
    "coord": ("oracles.coord", "CoordAtt", lambda c: {"inp": c, "oup": c, "reduction": 32}),
    "gam": ("oracles.gam", "GAM_Attention", lambda c: {"in_channels": c, "out_channels": c, "rate": 4}),
    "double": (
        "oracles.double",
        "DoubleAttentionLayer",
        lambda c: {"in_channels": c, "c_m": c // 4, "c_n": c // 4, "reconstruct": True},
    ),
    "soca": ("oracles.soca", "SOCA", lambda c: {"channel": c, "reduction": 8}),
    "yolo_psa": ("ultralytics.nn.modules.block", "PSA", lambda c: {"c1": c, "c2": c}),
}


def article(key: str, channels: int) -> nn.Module | None:
    """The article's implementation of ``key`` for ``channels``, or None where there is none (yet)."""
    if key not in ARTICLE:
        return None
    module, name, kwargs = ARTICLE[key]
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return cls(**kwargs(channels))


def fwd_bwd_seconds(block: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> float:
    """Wall time of one training forward and backward pass."""
    block.zero_grad(set_to_none=True)
    x.grad = None
    start = time.perf_counter()
    block(x).backward(grad)
    return time.perf_counter() - start


def gflops_per_image(block: nn.Module, x: torch.Tensor) -> float:
    """Forward GFLOPs per image of the batch ``x``."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        block(x)
    return counter.get_total_flops() / x.shape[0] / 1e9


def measure(key: str, repeats: int, warmup: int) -> dict[str, Any]:
    """Median fwd+bwd times of ours and the article's (runs interleaved), our params and GFLOPs."""
    torch.manual_seed(0)
    x = torch.randn(BATCH, CHANNELS, SIZE, SIZE, requires_grad=True)
    grad = torch.randn_like(x)
    blocks = {"ours": modules.build(key, CHANNELS).train()}
    row: dict[str, Any] = {"key": key, "article": "—"}
    reference = article(key, CHANNELS)
    if reference is not None:
        try:
            fwd_bwd_seconds(reference.train(), x, grad)  # a first run: some articles' code fails at this size
            blocks["article"] = reference
        except RuntimeError as err:
            row["article"] = "fails"
            row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    times: dict[str, list[float]] = {name: [] for name in blocks}
    for run in range(warmup + repeats):
        for name, block in blocks.items():
            seconds = fwd_bwd_seconds(block, x, grad)
            if run >= warmup:
                times[name].append(seconds)
    row.update({name: statistics.median(t) for name, t in times.items()})
    row["params"] = sum(p.numel() for p in blocks["ours"].parameters())
    row["gflops"] = gflops_per_image(blocks["ours"], x)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table, then the article failures with their first error line."""
    lines = [
        "| block | ours (ms) | article (ms) | article / ours | params | GFLOPs/img |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        timed = isinstance(r["article"], float)
        ref = f"{1e3 * r['article']:.1f}" if timed else r["article"]
        ratio = f"{r['article'] / r['ours']:.2f}×" if timed else "—"
        ours = f"{1e3 * r['ours']:.1f}"
        lines.append(f"| {r['key']} | {ours} | {ref} | {ratio} | {r['params']:,} | {r['gflops']:.3g} |")
    failures = [f"- {r['key']}: the article's code fails: {r['error']}" for r in rows if "error" in r]
    return "\n".join(lines + ([""] if failures else []) + failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", nargs="+", default=modules.available(), help="blocks to measure (default: all)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per block (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"C={CHANNELS}, {SIZE}×{SIZE}, batch {BATCH}, CPU threads: {torch.get_num_threads()}, "
        f"torch {torch.__version__}: forward+backward in train mode, median of {args.repeats} runs\n"
    )
    print(table([measure(modules.resolve(key), args.repeats, args.warmup) for key in args.keys]))


if __name__ == "__main__":
    main()
