"""Counting one view of a model: FLOPs (fvcore; a module-hook counter; the VidTr paper's
convention) and parameters. Latency comes from :mod:`.timing`, memory from :mod:`.memory`.

FLOPs follow fvcore: one multiply-add counts as one FLOP. fvcore has no handler for
``scaled_dot_product_attention`` (it would silently count 0): we give it one. Operators
fvcore neither counts nor ignores are reported by name, never dropped silently. Both
counters turn off ``nn.MultiheadAttention``'s fused inference fast path while they count
(with ``batch_first=True`` in eval mode it hides even the projections from the trace); the
arithmetic is the same.

The module-hook convention (:func:`count_module_hooks`) is what a counter built on forward
hooks sees: only ``nn.Linear`` and ``nn.Conv1d/2d/3d`` modules that the forward pass calls.
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor, nn


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


@contextmanager
def mha_fastpath_off():
    """``nn.MultiheadAttention`` through its unfused path (same arithmetic, visible to counters)."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def count_flops(module: nn.Module, inputs: Tensor) -> FlopCount:
    """Full forward-pass FLOPs with fvcore (multiply-adds), SDPA included."""
    with warnings.catch_warnings(), mha_fastpath_off():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module.eval(), (inputs,))
        for op in SDPA_OPS:
            analysis.set_op_handle(op, _sdpa_flops)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        with torch.no_grad():
            total = analysis.total()
        return FlopCount(total / 1e9, Counter(analysis.unsupported_ops()))


HOOKED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
Positions = Callable[[nn.Module, tuple, tuple], int]  # (module, input shape, output shape) -> positions


def _all_positions(module: nn.Module, in_shape: tuple, out_shape: tuple) -> int:
    """Output positions of one call (over the batch): output elements per output channel."""
    return math.prod(out_shape) // (module.out_features if isinstance(module, nn.Linear) else module.out_channels)


def _per_position(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return module.in_channels // module.groups * math.prod(module.kernel_size) * module.out_channels


@dataclass
class ModuleHookCount:
    gflops: float
    by_type: dict = field(default_factory=dict)  # module class name -> GFLOPs
    # weighted modules of the hooked types whose forward never ran (their weights were used, if
    # at all, functionally: nn.MultiheadAttention's out_proj, the released VidTr's qkv / proj)
    uncalled: list = field(default_factory=list)
    calls: list = field(default_factory=list, repr=False)  # (module, input shape, output shape)
    batch: int = 1

    def recount(self, positions: Optional[Positions] = None) -> "ModuleHookCount":
        """The same forward pass counted over other positions (no second pass). Multiply-adds
        are summed as whole numbers, divided once at the end."""
        macs: Counter = Counter()
        for mod, in_shape, out_shape in self.calls:
            macs[type(mod).__name__] += (positions or _all_positions)(mod, in_shape, out_shape) * _per_position(mod)
        return ModuleHookCount(sum(macs.values()) / self.batch / 1e9,
                               {k: v / self.batch / 1e9 for k, v in macs.items()}, self.uncalled, self.calls,
                               self.batch)


@contextmanager
def recording_module_calls(module: nn.Module, include: Optional[Callable[[str], bool]] = None):
    """Forward hooks on every ``nn.Linear`` / ``nn.Conv1d/2d/3d`` of ``module`` (those whose name
    ``include`` accepts, when given) while inside; yields (calls, hooked): each call as (module,
    input shape, output shape), and the hooked modules by name."""
    calls: list = []

    def hook(mod, inp, out):  # int(): under fvcore's trace the sizes are traced values
        calls.append((mod, tuple(int(d) for d in inp[0].shape), tuple(int(d) for d in out.shape)))

    hooked = {name: m for name, m in module.named_modules()
              if isinstance(m, HOOKED) and (include is None or include(name))}
    handles = [m.register_forward_hook(hook) for m in hooked.values()]
    try:
        yield calls, hooked
    finally:
        for h in handles:
            h.remove()


def _hook_count(calls: list, hooked: dict, batch: int, positions: Optional[Positions]) -> ModuleHookCount:
    called = {id(c[0]) for c in calls}
    uncalled = [name for name, m in hooked.items() if id(m) not in called]
    return ModuleHookCount(0.0, Counter(), uncalled, calls, batch).recount(positions)


def count_module_hooks(module: nn.Module, inputs: Tensor, positions: Optional[Positions] = None,
                       include: Optional[Callable[[str], bool]] = None) -> ModuleHookCount:
    """GFLOPs per input of one forward pass as a module-hook counter sees it: a forward hook on
    every ``nn.Linear`` and ``nn.Conv1d/2d/3d`` adds its multiply-adds (positions x in_features,
    or positions x in_channels / groups x kernel volume, per output channel; biases not
    counted, as in fvcore), and nothing else is counted: no matmul, einsum or attention product
    outside such a module, no projection whose weight is used without calling its module.
    ``positions(module, input shape, output shape)``, if given, replaces the number of output
    positions a call counts (e.g. patch tokens only: :func:`vidtr_patch_positions`); ``include``,
    if given, hooks only the modules whose name it accepts."""
    with recording_module_calls(module, include) as (calls, hooked), torch.no_grad(), mha_fastpath_off():
        module.eval()(inputs)
    return _hook_count(calls, hooked, inputs.shape[0], positions)


def count_flops_and_module_hooks(module: nn.Module, inputs: Tensor,
                                 positions: Optional[Positions] = None) -> tuple[FlopCount, ModuleHookCount]:
    """:func:`count_flops` and :func:`count_module_hooks` from one forward pass: the hooks
    record the pass fvcore's trace makes."""
    with recording_module_calls(module) as (calls, hooked):
        flops = count_flops(module, inputs)
    return flops, _hook_count(calls, hooked, inputs.shape[0], positions)


def vidtr_patch_positions(backbone: nn.Module) -> Positions:
    """For :func:`count_module_hooks` on a VidTr: count only patch-token positions, as the
    paper's figures do. The stem convolution's outputs are all patch tokens; a linear layer on a
    (B, R, C, D) token grid counts the grid less its class row / column, on a (B, 1 + L, D)
    sequence the L patch tokens; class-token-only calls (the compact model's class token, the
    head) count nothing."""
    class_rows, class_cols = {"grid": (1, 1), "frame": (0, 1), "single": (0, 0)}[backbone.spec.layout]

    def positions(module, in_shape, out_shape):
        if not isinstance(module, nn.Linear):
            return _all_positions(module, in_shape, out_shape)
        if len(in_shape) == 4:
            return in_shape[0] * (in_shape[1] - class_rows) * (in_shape[2] - class_cols)
        if len(in_shape) == 3:
            return in_shape[0] * (in_shape[1] - 1)
        return 0

    return positions


def _stem_or_mlp(name: str) -> bool:
    return name == "patch_embed.proj" or ".mlp." in name


def count_paper_convention(backbone: nn.Module, clip: Tensor) -> float:
    """GFLOPs by the convention the VidTr paper's figures match: a module-hook counter on the
    released code, whose attention projections are a raw parameter and a custom linear, so it
    sees only the patch stem and the MLP linear layers; over patch tokens (class tokens and all
    attention arithmetic left out). The same counter as :func:`count_module_hooks`, told to hook
    only those modules, so any VidTr structure (fused or released) gives the paper's figure."""
    return count_module_hooks(backbone, clip, vidtr_patch_positions(backbone), include=_stem_or_mlp).gflops


def params_m(module: nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6
