"""The cost model: GFLOPs, parameters, latency and peak memory of a model's forward pass, cached per architecture.

GFLOPs are counted by ``torch.utils.flop_counter`` (2 per multiply-add of convolutions, linear layers, matrix
products and attention) plus 4 per element for normalisation layers ((x - mean) / std * weight + bias);
activations, pooling, softmax and elementwise arithmetic count zero.

Latency is timed with a fixed number of CPU threads and, to compare trials measured under different loads, as a ratio
to a reference model (the baseline) timed beside the model, run for run.
"""

from __future__ import annotations

import math
import statistics
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten
NORMS = (
    aten.native_batch_norm,
    aten._native_batch_norm_legit,
    aten._native_batch_norm_legit_no_training,
    aten.cudnn_batch_norm,
    aten.native_group_norm,
    aten.native_layer_norm,
)
_CACHE: dict[tuple[Any, ...], dict[str, float]] = {}


def _norm_flops(x_shape: torch.Size, *args: Any, **kwargs: Any) -> int:
    return 4 * math.prod(x_shape)


def params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def gflops(model: nn.Module, imgsz: int | tuple[int, int], channels: int = 3) -> float:
    """GFLOPs of one forward pass of one image (see the module docstring for what counts)."""
    x = _input(model, imgsz, 1, channels)
    with _inference(model), FlopCounterMode(display=False, custom_mapping=dict.fromkeys(NORMS, _norm_flops)) as fc:
        model(x)
    return fc.get_total_flops() / 1e9


def profile(
    model: nn.Module,
    imgsz: int | tuple[int, int],
    batch: int = 1,
    device: str | torch.device = "cpu",
    *,
    key: str | None = None,
    channels: int = 3,
    warmup: int = 5,
    runs: int = 20,
    baseline: nn.Module | None = None,
    threads: int | None = 1,
) -> dict[str, float]:
    """Measure a model in eval mode on ``device`` (it is moved there).

    Args:
        model: the module; its input is (batch, channels, imgsz, imgsz) or (batch, channels, h, w).
        imgsz: image size, an int or (h, w).
        batch: batch size of the latency and memory measurements (GFLOPs are per image).
        device: where to run.
        key: canonical architecture key (``Placed.key``); results are cached per key and the other arguments.
        channels: input channels.
        warmup: untimed runs first.
        runs: timed runs (at least 20); the latency is their median.
        baseline: a reference model (the architecture without blocks, moved to ``device`` too) timed beside ``model``:
            the two take turns, in alternating order, so both runs of a pair see the same load.
        threads: torch's CPU threads during the measurement (restored after); None keeps the current number.

    Returns:
        ``gflops``; ``params``; ``latency_ms`` (median forward time, CUDA synchronised); ``peak_mem_mb``: peak memory of
        a forward pass, weights included (CUDA allocator peak; on CPU the peak of live tensor storage, traced); with
        ``baseline``, ``latency_ratio``: the median of the per-pair ratios of ``model``'s time to the baseline's.
    """
    if runs < 20:
        raise ValueError(f"runs: at least 20 timed runs, got {runs}")
    device = torch.device(device)
    size = imgsz if isinstance(imgsz, int) else tuple(imgsz)
    cache_key = (key, size, batch, str(device), channels, baseline is not None, threads)
    if key is not None and cache_key in _CACHE:
        return dict(_CACHE[cache_key])
    model.to(device)
    x = _input(model, imgsz, batch, channels)
    models = [model] if baseline is None else [model, baseline.to(device)]
    with ExitStack() as stack, _threads(threads, device):
        result = {"gflops": gflops(model, imgsz, channels), "params": float(params(model))}
        for m in models:
            stack.enter_context(_inference(m))
        result["peak_mem_mb"] = _peak_memory(model, x) / 2**20
        times = _timings(models, x, device, warmup, runs)
    result["latency_ms"] = statistics.median(times[0]) * 1e3
    if baseline is not None:
        result["latency_ratio"] = statistics.median(t / b for t, b in zip(*times, strict=True))
    if key is not None:
        _CACHE[cache_key] = dict(result)
    return result


def _timings(
    models: Sequence[nn.Module], x: torch.Tensor, device: torch.device, warmup: int, runs: int
) -> list[list[float]]:
    """Seconds of ``runs`` forward passes of each model, after ``warmup`` untimed ones, the models taking turns.

    The order alternates from one run to the next, so no model is always the first after a pause.
    """
    for _ in range(warmup):
        for m in models:
            m(x)
    times: list[list[float]] = [[] for _ in models]
    for run in range(runs):
        for i in range(len(models))[:: 1 if run % 2 == 0 else -1]:
            _sync(device)
            start = time.perf_counter()
            models[i](x)
            _sync(device)
            times[i].append(time.perf_counter() - start)
    return times


@contextmanager
def _threads(threads: int | None, device: torch.device) -> Iterator[None]:
    """Torch's CPU threads set to ``threads`` for a measurement on the CPU, the previous number restored after."""
    previous = torch.get_num_threads()
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _input(model: nn.Module, imgsz: int | tuple[int, int], batch: int, channels: int) -> torch.Tensor:
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    p = next(model.parameters())
    return torch.zeros(batch, channels, h, w, device=p.device, dtype=p.dtype)


@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the duration; the model's mode is restored after."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(training)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory(model: nn.Module, x: torch.Tensor) -> int:
    """Peak bytes of a forward pass, weights included."""
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        model(x)
        return torch.cuda.max_memory_allocated(x.device)
    resident = [*model.parameters(), *model.buffers(), x]
    with _LiveTensors(resident) as live:
        model(x)
    return sum(t.untyped_storage().nbytes() for t in resident) + live.peak


class _LiveTensors(TorchDispatchMode):
    """Traces the bytes of tensor storage that operators allocate and that is still alive, and its peak.

    Storage of the ``resident`` tensors (weights, input) is not counted again when an operator returns a view of it.
    """

    def __init__(self, resident: list[torch.Tensor]) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._seen = {id(t.untyped_storage()) for t in resident}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and id(storage := t.untyped_storage()) not in self._seen:
                self._seen.add(id(storage))
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self._free, id(storage), storage.nbytes())
        return out

    def _free(self, ident: int, nbytes: int) -> None:
        self._seen.discard(ident)
        self.live -= nbytes
