"""Peak memory of one training step on the CPU, from torch's own allocation events.

torch's CPU allocator keeps no peak statistics (``torch.cuda.max_memory_allocated`` has no CPU
twin), and neither tracemalloc (it does not see torch's allocations) nor the process's RSS (the
C allocator keeps freed memory) measures what one step needs. ``torch.profiler`` with
``profile_memory=True`` records every allocation and free of tensor memory with its size and time:
their running sum over one forward + backward pass, at its maximum, is the step's peak of tensor
memory above what was allocated before it (the weights and the input clip): activations kept
for the backward pass, attention maps, gradients and temporaries.
"""
from __future__ import annotations

from typing import Callable

import torch

from .demo_sources import quiet_native_stderr


def peak_bytes(step: Callable[[], None]) -> int:
    """The peak of live tensor memory (bytes) that ``step()`` allocates on the CPU, above what
    was live before it: the maximum of the running sum of the profiler's memory events."""
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


def train_step_peak_mb(model: torch.nn.Module, clip: torch.Tensor, num_classes: int) -> float:
    """MiB of tensor memory one training step (forward, cross-entropy, backward) of a
    recognizer's backbone and head needs on ``clip`` (N, C, T, H, W), gradients included."""
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
