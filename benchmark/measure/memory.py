"""Peak memory of one step (the one home of memory measurement: ``complexity --memory``,
``speed`` and the demo's memory claim).

On a GPU, torch's caching allocator keeps the peak: reset it, run the step, read it. On the CPU
torch's allocator keeps no peak statistics (``torch.cuda.max_memory_allocated`` has no CPU twin),
and neither tracemalloc (it does not see torch's allocations) nor the process's RSS (the C
allocator keeps freed memory) measures what one step needs. ``torch.profiler`` with
``profile_memory=True`` records every allocation and free of tensor memory with its size and time:
their running sum over the step, at its maximum, is the step's peak of tensor memory above what
was allocated before it (activations kept for the backward pass, attention maps, gradients and
temporaries).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ..console import quiet_native_stderr


def peak_bytes(step: Callable[[], None], device="cpu") -> int:
    """The peak of live tensor memory (bytes) that ``step()`` allocates on ``device`` above what
    was live before it."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile

    # Kineto (the profiler's backend) prints start/stop lines, and without a GPU a CUDA error
    with quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU),
                    key=lambda t: t[0])
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def train_step_peak_memory_gb(module: nn.Module, inputs: Tensor, device: torch.device) -> Optional[float]:
    """Peak GPU memory (weights, inputs and the step together) of one forward + backward pass
    (batch as given); None off a GPU, inf when it does not fit."""
    if device.type != "cuda":
        return None
    module = module.to(device).train()
    inputs = inputs.to(device)
    module.zero_grad(set_to_none=True)
    torch.cuda.empty_cache()
    try:
        resident = torch.cuda.memory_allocated(device)
        return (resident + peak_bytes(lambda: module(inputs).float().sum().backward(), device)) / 2**30
    except torch.OutOfMemoryError:
        return float("inf")
    finally:
        module.zero_grad(set_to_none=True)


def train_step_peak_mb(model: nn.Module, clip: Tensor, num_classes: int) -> float:
    """MiB of tensor memory one training step (forward, cross-entropy, backward) of a
    recognizer's backbone and head needs on ``clip`` (N, C, T, H, W) on the CPU, gradients
    included."""
    model.train()
    labels = torch.zeros(clip.shape[0], dtype=torch.long)
    head = model.cls_head

    def step():
        feats = model.backbone(clip)
        loss = torch.nn.functional.cross_entropy(head(feats), labels)
        loss.backward()

    model.zero_grad(set_to_none=True)
    try:
        return peak_bytes(step) / 2**20
    finally:
        model.zero_grad(set_to_none=True)
