"""The one timing harness of ``speed`` and ``complexity``: callables timed round-robin (one
call of each per round, so that drift in clocks or load hits them all alike), CUDA events on a
GPU and the wall clock on the CPU; out-of-memory calls dropped, not fatal. Memory: :mod:`.memory`."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Optional

import torch
from torch import Tensor, nn


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    """Milliseconds of one call: CUDA events on a GPU, the wall clock on the CPU."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def fits(fn: Callable[[], object], device: torch.device) -> bool:
    """Runs ``fn``; False (and the GPU cache emptied) when it runs out of memory."""
    try:
        fn()
        return True
    except torch.OutOfMemoryError:
        pass
    if device.type == "cuda":  # outside the except block, where the traceback pins no tensors
        torch.cuda.empty_cache()
    return False


def round_robin(fns: dict[str, Callable[[], object]], device: torch.device, iters: int, warmup: int = 0,
                on_oom: Optional[Callable[[str], None]] = None) -> dict[str, Optional[list[float]]]:
    """Milliseconds of ``iters`` calls of each callable after ``warmup`` rounds, one call of
    each per round. A callable that runs out of GPU memory is dropped (its entry is None) and
    ``on_oom(name)`` frees what it held; the others go on."""
    times: dict[str, Optional[list[float]]] = {k: [] for k in fns}
    for i in range(warmup + iters):
        for name, fn in fns.items():
            if times[name] is None:
                continue
            t = []
            if not fits(lambda: t.append(time_once(fn, device)), device):
                times[name] = None
                if on_oom:
                    on_oom(name)
            elif i >= warmup:
                times[name] += t
    return times


def summary(times: list[float]) -> dict:
    return dict(median=statistics.median(times), min=min(times), max=max(times), n=len(times))


def latency(fn: Callable[[], object], device: torch.device, warmup: int = 2, iters: int = 5) -> Optional[dict]:
    """Median and spread of one inference callable (no autograd); None if it does not fit."""
    with torch.no_grad():
        times = round_robin({"fn": fn}, device, iters, warmup)["fn"]
    return summary(times) if times else None


def throughput(module: nn.Module, make_input: Callable[[int], Tensor], device: torch.device,
               max_batch: int = 64, iters: int = 3) -> tuple[float, int]:
    """Clips per second at the largest batch (powers of two up to ``max_batch``) that fits."""
    best = (0.0, 0)
    batch = 1
    while batch <= max_batch:
        x = make_input(batch).to(device)
        t = latency(lambda: module(x), device, warmup=1, iters=iters)
        if t is None:
            break
        best = (batch / (t["median"] / 1e3), batch)
        batch *= 2
    return best
