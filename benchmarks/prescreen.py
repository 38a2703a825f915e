"""Pre-screening: do signals that cost a small fraction of a trial rank architectures as the exhaustive table does?

Each architecture of the table (``benchmarks/table.py``) is built from the cached baseline with its blocks
initialised at ``trainer.seed``. On the same fixed training batches for every architecture (augmented as a trial's,
drawn once; common random numbers), with BatchNorm's running statistics used and kept, it measures:

- ``gate_grad``: the blocks in a zero-initialised residual gate (y = x + γ·(f(x) − x), γ = 0: the network is still
  the baseline), −∂L/∂γ summed over the gates, mean over ``--batches`` batches: the first-order loss decrease of
  opening the gates (a block whose f(x) − x points down the loss gradient scores high).
- ``fisher``: in the same gates, the Fisher pruning signal of the branch, ½·mean over images of
  Σ_channels (Σ_hw (f(x) − x)·∂L/∂y)², summed over gates (Theis et al. 2018; a zero-cost NAS proxy in Abdelfattah
  et al. 2021): sign-free, per channel.
- ``disruption``: the blocks placed as the trial places them (``search.gate``; the shipped trials put them straight on
  the data path), the loss on ``--held`` held batches minus the baseline's there, before any training: how far a
  block moves the trained network.
- ``loss_drop``: that loss minus the held loss after ``--steps`` AdamW steps (one per gradient batch, cycled) that
  train only the blocks, at the trial's block learning rate (``trainer.lr0 × search.block_lr_mult``): how fast the
  block recovers, or improves on, what it disrupted.
- ``gflops`` and ``params`` (the table's cost model): the baselines a signal must beat.

The baseline has no block: every signal is 0 for it. The report correlates each signal with the table's score, the
mean paired Δ to the baseline over the repeats every architecture has: Kendall's τ with its 95% percentile bootstrap
interval over architectures (``search.stats.kendall_interval``), and the partial τ with GFLOPs controlled (Kendall
1942). A signal adds information beyond GFLOPs when its partial τ exceeds 0.3 in absolute value (the issue's bar; a
signal may rank backwards). The ceiling any signal can reach is the table's own reliability: the τ between one
repeat's Δ and the others' mean. Cost is counted in training images through the network (forward and backward for
the gradient and training batches, forward only for the held ones), against a trial's.

Usage (from the repository root; one process at a time, it trains)::

    python -m benchmarks.prescreen measure [--batches 8] [--held 4] [--steps 8] [overrides]   # results/prescreen.csv
    python -m benchmarks.prescreen report                                          # the table of correlations
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning import seed_everything
from torch import nn
from ultralytics.data import build_dataloader

from benchmarks import fidelity, table
from benchmarks.fidelity import TASKS, open_results
from modules.gate import ResidualGate
from runners.detect import DetectionModule
from search import space
from search.evaluate import block_parameters
from search.placement import apply
from search.stats import kendall, kendall_interval, partial_kendall

SIGNALS = ("gate_grad", "fisher", "disruption", "loss_drop")
FIELDS = ["arch", "blocks", *SIGNALS, "seconds"]
COST = ("gflops", "params")
BAR = 0.3  # partial τ beyond GFLOPs that would justify search.prescreen
Batch = dict[str, Any]


def csv_path(name: str = "") -> Path:
    """``results/prescreen[_<name>].csv``."""
    return fidelity.RESULTS / f"prescreen{f'_{name}' if name else ''}.csv"


def gate_statistics(model: nn.Module, batches: Sequence[Batch], loss: Callable[[Batch], torch.Tensor]) -> dict:
    """``gate_grad`` and ``fisher`` of ``model``'s residual gates on ``batches`` (module docstring); 0 without gates."""
    gates = [m for m in model.modules() if isinstance(m, ResidualGate)]
    fisher: list[float] = []
    grads: list[float] = []
    branch: dict[nn.Module, torch.Tensor] = {}  # f(x) − x of each gate's block, this batch

    def keep_branch(block: nn.Module, args: tuple, out: torch.Tensor) -> None:
        branch[block] = (out - args[0]).detach()

    def on_gradient(gate: ResidualGate, args: tuple, out: torch.Tensor) -> None:
        z = branch[gate.block]
        out.register_hook(lambda g: fisher.append(0.5 * (z * g).sum((2, 3)).pow(2).sum(1).mean().item()))

    handles = [gate.block.register_forward_hook(keep_branch) for gate in gates]
    handles += [gate.register_forward_hook(on_gradient) for gate in gates]
    try:
        for batch in batches:
            model.zero_grad(set_to_none=True)
            loss(batch).backward()
            grads.append(-sum(float(gate.gamma.grad.sum()) for gate in gates))
    finally:
        for handle in handles:
            handle.remove()
    n = len(batches)
    return {"gate_grad": statistics.fmean(grads), "fisher": sum(fisher) / n if gates else 0.0}


def held_loss(held: Sequence[Batch], loss: Callable[[Batch], torch.Tensor]) -> float:
    """The mean loss over ``held``, without gradients."""
    with torch.no_grad():
        return sum(float(loss(b)) for b in held) / len(held)


def train_only(
    params: Sequence[nn.Parameter], train: Sequence[Batch], loss: Callable[[Batch], torch.Tensor], lr: float
) -> None:
    """One AdamW step per batch of ``train`` on ``params`` alone."""
    optimizer = torch.optim.AdamW(params, lr=lr)
    for batch in train:
        optimizer.zero_grad(set_to_none=True)
        loss(batch).backward()
        optimizer.step()


def costs(batches: int, held: int, steps: int, size: int) -> dict[str, int]:
    """Training images each signal passes through the network (forward only counted as one, like a backward pass)."""
    return {"gate_grad": batches * size, "fisher": batches * size, "disruption": held * size,
            "loss_drop": (2 * held + steps) * size}  # fmt: skip


def frozen_statistics(model: nn.Module) -> nn.Module:
    """Training mode (the head's training outputs, which the loss reads) with BatchNorm's running statistics used and
    kept: the signals are then a function of the weights alone, and no batch changes the next one's."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


@dataclass
class Screen:
    """The protocol's cached baseline, settings and fixed batches: ``signals(blocks)`` measures one architecture."""

    setup: fidelity.Protocol
    batches: list[Batch]
    held: list[Batch]
    steps: int

    def module(self, blocks: Mapping[int, str], gate: bool) -> DetectionModule:
        """The architecture from the baseline, blocks gated or not, its criterion built, in ``frozen_statistics``."""
        torch.manual_seed(int(self.setup.settings.seed))
        placed = apply(self.setup.task.model, blocks, self.setup.weights, identity_init=gate, nc=self.setup.task.nc)
        module = DetectionModule(placed.model, self.setup.data, self.setup.settings)
        placed.model.criterion = placed.model.init_criterion()
        frozen_statistics(placed.model)
        return module

    @functools.cached_property
    def baseline_loss(self) -> float:
        """The baseline's loss on the held batches."""
        module = self.module({}, gate=False)
        return held_loss(self.held, lambda batch: module.loss(batch)[0])

    def signals(self, blocks: Mapping[int, str]) -> dict[str, float]:
        """``SIGNALS`` of one architecture."""
        probe = self.module(blocks, gate=True)
        out = gate_statistics(probe.model, self.batches, lambda batch: probe.loss(batch)[0])
        trial = self.module(blocks, gate=self.setup.gate)
        loss = lambda batch: trial.loss(batch)[0]  # noqa: E731
        params = block_parameters(trial.model)
        if not params:  # the baseline
            return out | {"disruption": 0.0, "loss_drop": 0.0}
        before = held_loss(self.held, loss)
        out["disruption"] = before - self.baseline_loss
        train = [self.batches[i % len(self.batches)] for i in range(self.steps)]
        train_only(params, train, loss, self.setup.settings.lr0 * self.setup.block_lr_mult)
        out["loss_drop"] = before - held_loss(self.held, loss)
        return out


def screen(overrides: Sequence[str], batches: int, held: int, steps: int) -> Screen:
    """The trial protocol (``fidelity.protocol``) and ``batches + held`` augmented training batches, drawn once."""
    setup = fidelity.protocol(TASKS["detect"], overrides)
    baseline = apply(setup.task.model, {}, setup.weights, nc=setup.task.nc).model
    module = DetectionModule(baseline, setup.data, setup.settings)
    train_set, _ = module.build_datasets(setup.settings.batch)
    seed_everything(int(setup.settings.seed), verbose=False)  # order and augmentation (Python's and NumPy's random)
    loader = build_dataloader(train_set, setup.settings.batch, 0, shuffle=True, rank=-1)
    drawn: list[Batch] = []
    while len(drawn) < batches + held:  # another pass over a small train split
        drawn += [module.on_after_batch_transfer(b, 0) for b in itertools.islice(loader, batches + held - len(drawn))]
    return Screen(setup, drawn[:batches], drawn[batches:], steps)


def measure(path: Path, header: Mapping[str, str], run: Screen, archs: Mapping[str, space.Architecture]) -> int:
    """Measure every architecture ``path`` lacks, appending each row as it is done; how many were measured."""
    old = fidelity.read_rows(path)[0].get("images")
    if old is not None and old != header["images"]:
        sys.exit(f"error: {path} was measured with other --batches, --held or --steps; move it away or use --name")
    done = {arch for arch, _ in open_results(path, header, FIELDS)}
    todo = [arch for arch in archs.values() if space.describe(arch) not in done]
    for i, arch in enumerate(todo, 1):
        start = time.perf_counter()
        values = run.signals({int(site): block for site, (block, _) in arch.items()})
        row = {"arch": space.describe(arch), "blocks": table.key(arch), **values}
        row["seconds"] = round(time.perf_counter() - start, 2)
        with path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow(row)
        print(f"[{i}/{len(todo)}] {row['arch']}: " + ", ".join(f"{k} {values[k]:.4g}" for k in SIGNALS), flush=True)
    return len(todo)


def table_deltas(rows: Iterable[Mapping[str, Any]]) -> tuple[dict[str, dict[int, float]], dict[str, dict[str, float]]]:
    """Per architecture (canonical key): its paired Δ to the baseline at each repeat both have, and its cost."""
    rows = list(rows)
    scores = table.repeat_scores(rows)
    cost = {row["blocks"]: {"gflops": float(row["gflops"]), "params": float(row["params"])} for row in rows}
    base = scores.get(table.key({}), {})
    deltas = {k: {r: v - base[r] for r, v in by.items() if r in base} for k, by in scores.items()}
    return deltas, cost


def correlations(signals: Mapping[str, Mapping[str, float]], deltas: Mapping[str, Mapping[int, float]],
                 cost: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:  # fmt: skip
    """Per signal (cost ones first): τ with the mean Δ, its bootstrap interval and the partial τ with GFLOPs held."""
    common = sorted(set.intersection(*(set(d) for d in deltas.values())))
    keys = [k for k in signals if k in deltas]
    target = [statistics.fmean(deltas[k][r] for r in common) for k in keys]
    gflops = [cost[k]["gflops"] for k in keys]
    out = []
    for name in (*COST, *SIGNALS):
        x = [cost[k][name] if name in COST else signals[k][name] for k in keys]
        low, high = kendall_interval(x, target)
        partial = float("nan") if name == "gflops" else partial_kendall(x, target, gflops)
        out.append({"signal": name, "tau": kendall(x, target), "low": low, "high": high, "partial": partial})
    return out


def ceiling(deltas: Mapping[str, Mapping[int, float]]) -> list[float]:
    """The table's reliability: per repeat r, τ between the Δ at r and the mean Δ of the other common repeats."""
    common = sorted(set.intersection(*(set(d) for d in deltas.values())))
    keys = [k for k in deltas if k != table.key({})]
    return [
        kendall([deltas[k][r] for k in keys], [statistics.fmean(deltas[k][o] for o in common if o != r) for k in keys])
        for r in common
    ] if len(common) > 1 else []  # fmt: skip


def report(signal_path: Path, table_path: Path) -> str:
    """The markdown report: each signal's τ with the table, and the table's own ceiling."""
    _, table_rows = fidelity.read_rows(table_path)
    deltas, cost = table_deltas(table_rows)
    header, rows = fidelity.read_rows(signal_path)
    signals = {r["blocks"]: {k: float(r[k]) for k in SIGNALS} for r in rows}
    shared = {k: deltas[k] for k in signals if k in deltas}
    images = json.loads(header.get("images", "{}"))
    trial_images = statistics.fmean(float(r["images"]) for r in table_rows)
    lines = [
        f"{len(shared)} architectures in both {signal_path.name} and {table_path.name}; Δ = mean paired Δ mAP50-95 to "
        f"the baseline over {len(set.intersection(*(set(d) for d in shared.values())))} repeats; a trial trains on "
        f"{trial_images:.0f} images",
        "",
        "| signal | images (of a trial's) | τ with Δ | 95% bootstrap interval | partial τ, GFLOPs controlled |",
        "|---|---:|---:|---:|---:|",
    ]
    measured = correlations(signals, shared, cost)  # bootstrap intervals: computed once
    for c in measured:
        partial = "—" if c["partial"] != c["partial"] else f"{c['partial']:+.3f}"
        n = images.get(c["signal"], 0)
        lines.append(f"| {c['signal']} | {n} ({n / trial_images:.1%}) | {c['tau']:+.3f} | "
                     f"[{c['low']:+.3f}, {c['high']:+.3f}] | {partial} |")  # fmt: skip
    ceil = ceiling(shared)
    if ceil:
        lines += ["", "ceiling: τ of one repeat's Δ with the others' mean, per repeat: "
                  + ", ".join(f"{t:+.3f}" for t in ceil)]  # fmt: skip
    best = max((c for c in measured if c["signal"] in SIGNALS), key=lambda c: abs(c["partial"]))
    verdict = "adds" if abs(best["partial"]) > BAR else "does not add"
    lines.append(f"best signal beyond GFLOPs: {best['signal']} (partial τ {best['partial']:+.3f}), which {verdict} "
                 f"information beyond GFLOPs at the bar of |partial τ| > {BAR}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--batches", type=int, default=8, help="gradient batches, also the training batches of loss_drop")
    m.add_argument("--held", type=int, default=4, help="held batches of disruption and loss_drop")
    m.add_argument("--steps", type=int, default=8, help="block-only training steps of loss_drop")
    m.add_argument("--name", default="", help="results/prescreen_<name>.csv")
    m.add_argument("overrides", nargs="*", help="Hydra overrides of the search config, as the table was built with")
    r = sub.add_parser("report")
    r.add_argument("--name", default="")
    r.add_argument("--table", default="", help="the table's --name")
    args = parser.parse_args(argv)
    if args.command == "report":
        print(report(csv_path(args.name), table.csv_path(args.table)))
        return
    run = screen(args.overrides, args.batches, args.held, args.steps)
    command = ["python -m benchmarks.prescreen measure", f"--batches {args.batches}", f"--held {args.held}"]
    command.append(f"--steps {args.steps}")
    size = int(run.setup.settings.batch)
    header = {"command": " ".join([*command, *args.overrides]), **run.setup.header,
              "images": json.dumps(costs(args.batches, args.held, args.steps, size))}  # fmt: skip
    measure(csv_path(args.name), header, run, table.architectures())
    print(report(csv_path(args.name), table.csv_path()))


if __name__ == "__main__":
    main()
