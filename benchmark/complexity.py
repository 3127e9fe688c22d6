"""Complexity of one view of a model: FLOPs (fvcore, and the paper's convention) and
parameters. Latency and memory come from the timing harness (:mod:`benchmark.timing`).

FLOPs follow fvcore: one multiply-add counts as one FLOP. fvcore has no handler for
``scaled_dot_product_attention`` (it would silently count 0): we give it one. Operators
fvcore neither counts nor ignores are reported by name, never dropped silently.
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass

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
