"""Complexity of one view of a model: FLOPs (fvcore, and the paper's convention), parameters,
latency, throughput and training-step memory.

FLOPs follow fvcore: one multiply-add counts as one FLOP. fvcore has no handler for
``scaled_dot_product_attention`` (it would silently count 0): we give it one. Operators
fvcore neither counts nor ignores are reported by name, never dropped silently.
"""
from __future__ import annotations

import math
import statistics
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor, nn


def build_model(name: str, num_classes: int = 400):
    """An mmaction2 recognizer from a VidTr name or a baseline name."""
    import baselines
    import vidtr

    if name in vidtr.list_models():
        return vidtr.build_recognizer(name, num_classes=num_classes)
    if name in baselines.BASELINES:
        return baselines.build_baseline(name, num_classes=num_classes)
    raise KeyError(f"unknown model {name!r}; VidTr models: {', '.join(vidtr.list_models())}; "
                   f"baselines: {', '.join(baselines.list_baselines())}")


def view_input(name: str, frames: int, res: int, batch: int = 1) -> Tensor:
    """One view per clip, shaped as the recognizer's ``inputs``."""
    import baselines

    if name in baselines.BASELINES and baselines.BASELINES[name].kind == "2d":
        return torch.randn(batch, frames, 3, res, res)
    return torch.randn(batch, 1, 3, frames, res, res)


class ScoresOf(nn.Module):
    """Recognizer inputs -> class scores, through backbone, neck and head (no softmax)."""

    def __init__(self, recognizer: nn.Module):
        super().__init__()
        self.recognizer = recognizer
        head = recognizer.cls_head
        if getattr(head, "new_cls", False) is None:  # TPN's fully-convolutional test head is built
            with torch.no_grad():                    # lazily inside forward; build it up front so
                head._init_new_cls()                 # tracing (fvcore) sees a registered module

    def forward(self, inputs: Tensor) -> Tensor:
        feats, kwargs = self.recognizer.extract_feat(inputs, test_mode=True)
        return self.recognizer.cls_head(feats, **kwargs)


def _sdpa_flops(inputs, outputs) -> int:
    """fvcore handle: q @ k^T and attn @ v multiply-adds of scaled_dot_product_attention."""
    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = math.prod(q[:-2])
    return batch * q[-2] * k[-2] * q[-1] + batch * q[-2] * k[-2] * v[-1]


SDPA_OPS = ("aten::scaled_dot_product_attention", "aten::_scaled_dot_product_flash_attention_for_cpu",
            "aten::_scaled_dot_product_efficient_attention", "aten::_scaled_dot_product_flash_attention")


@dataclass
class FlopCount:
    gflops: float
    unsupported: Counter  # op name -> times seen, for ops fvcore neither counts nor ignores


def count_flops(module: nn.Module, inputs: Tensor) -> FlopCount:
    """Full forward-pass FLOPs with fvcore (multiply-adds), SDPA included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module.eval(), (inputs,))
        for op in SDPA_OPS:
            analysis.set_op_handle(op, _sdpa_flops)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        with torch.no_grad():
            total = analysis.total()
        return FlopCount(total / 1e9, Counter(analysis.unsupported_ops()))


def count_paper_convention(backbone: nn.Module, clip: Tensor) -> float:
    """GFLOPs by the convention the paper's numbers match (a module-hook counter that sees only
    nn.Linear / nn.Conv modules, on the released code, whose attention projections are a raw
    parameter and a custom linear):
    only the MLP linear layers and the patch stem, over patch tokens (class tokens and all
    attention arithmetic left out). Counted with hooks on a real forward pass, so the
    per-layer token counts are the ones the model actually produced."""
    spec = backbone.spec
    macs = []
    # the token grid a block's MLP sees: the class row/column (grid, frame layouts) is left out
    class_rows, class_cols = {"grid": (1, 1), "frame": (0, 1), "single": (0, 0)}[spec.layout]

    def stem_hook(module, inp, out):
        positions = out.numel() // module.out_channels  # patch tokens, over the batch
        macs.append(positions * module.in_channels * math.prod(module.kernel_size) * module.out_channels)

    def block_hook(block, inp, out):
        x = out[0]  # (B, R, C, D): the grid after this block
        patches = (x.shape[1] - class_rows) * (x.shape[2] - class_cols) * x.shape[0]
        macs.append(patches * (block.mlp.fc1.in_features * block.mlp.fc1.out_features
                               + block.mlp.fc2.in_features * block.mlp.fc2.out_features))

    handles = [backbone.patch_embed.proj.register_forward_hook(stem_hook)]
    handles += [blk.register_forward_hook(block_hook) for blk in backbone.blocks]
    try:
        with torch.no_grad():
            backbone.eval()(clip)
    finally:
        for h in handles:
            h.remove()
    return sum(macs) / clip.shape[0] / 1e9


def params_m(module: nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def latency_ms(fn: Callable[[], object], device: torch.device, warmup: int = 2, iters: int = 5) -> dict:
    """Median and spread (min, max) of ``iters`` timed calls after ``warmup``: CUDA events on
    a GPU, wall clock on the CPU."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        _sync(device)
        times = [time_once(fn, device) for _ in range(iters)]
    return dict(median=statistics.median(times), min=min(times), max=max(times), n=len(times))


def throughput(module: nn.Module, make_input: Callable[[int], Tensor], device: torch.device,
               max_batch: int = 64, iters: int = 3) -> tuple[float, int]:
    """Clips per second at the largest batch (powers of two up to ``max_batch``) that fits."""
    best = (0.0, 0)
    batch = 1
    while batch <= max_batch:
        try:
            x = make_input(batch).to(device)
            t = latency_ms(lambda: module(x), device, warmup=1, iters=iters)["median"]
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            break
        best = (batch / (t / 1e3), batch)
        batch *= 2
    return best


def train_step_peak_memory_gb(module: nn.Module, inputs: Tensor, device: torch.device) -> Optional[float]:
    """Peak GPU memory of one forward + backward pass (batch as given); None off a GPU."""
    if device.type != "cuda":
        return None
    module = module.to(device).train()
    inputs = inputs.to(device)
    module.zero_grad(set_to_none=True)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    try:
        module(inputs).float().sum().backward()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / 2**30
    except torch.OutOfMemoryError:
        return float("inf")
    finally:
        module.zero_grad(set_to_none=True)
