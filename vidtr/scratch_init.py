"""Initialisers for training VidTr from scratch on little data (the mini benchmark), registered in
mmengine's ``WEIGHT_INITIALIZERS`` so that a config lists them in the backbone's ``init_cfg`` after
the usual ones (``Pretrained`` weights, when given, still load last and replace them).

The paper starts every model from ImageNet ViT weights. Two things that such a start gives attention
are missing from a random one, and joint attention over all of a clip's tokens cannot learn without
them in a few hundred steps (docs/demo.md): heads whose query-key product favours similar
tokens, and a position embedding whose spatial part is shared by every frame (inflation tiles the
image's). mmengine's initialisers (Xavier, TruncNormal, ...) set each layer independently and know
neither, hence these two.
"""
from __future__ import annotations

import torch
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import nn


def _number(owner: str, key: str, value) -> float:
    """A config value that must be a number >= 0, or a one-line error naming the key."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{owner}: {key}={value!r} is not a number >= 0")
    return float(value)


@WEIGHT_INITIALIZERS.register_module(name="MimeticQK")
class MimeticQKInit:
    """Mimetic initialisation of attention, after Trockman & Kolter (ICML 2023): in every fused
    ``[q; k; v]`` projection (attributes ``qkv`` and ``qkv_t``), the query-key product summed over the
    heads, W_q^T W_k, is set to alpha * Z / sqrt(D) + beta * I (Z standard normal), split from one SVD
    in order of singular value: the first head gets the largest components and attends most sharply to
    tokens that resemble the query, the last head the smallest and starts near uniform. (The paper draws
    one target per head, every head sharp; in the demo that left separable attention at chance in 3 of
    6 runs, its temporal attention looking at the query's own frame only; this split in none of 6.)
    Value weights and biases are left to the initialisers before it; alpha = beta = 0.7 as in the paper."""

    def __init__(self, alpha: float = 0.7, beta: float = 0.7):
        self.alpha, self.beta = _number("MimeticQK", "alpha", alpha), _number("MimeticQK", "beta", beta)
        self.wholemodule = False  # set by mmengine's initialize()

    @torch.no_grad()
    def __call__(self, module: nn.Module) -> None:
        for m in module.modules():
            for name in ("qkv", "qkv_t"):
                lin = getattr(m, name, None)
                if isinstance(lin, nn.Linear) and lin.out_features == 3 * lin.in_features:
                    d = lin.in_features
                    target = self.alpha * torch.randn(d, d) / d ** 0.5 + self.beta * torch.eye(d)
                    u, s, vh = torch.linalg.svd(target)
                    lin.weight[:d] = (u * s.sqrt()).T  # W_q^T W_k = U S V^T = target
                    lin.weight[d:2 * d] = s.sqrt()[:, None] * vh
        if hasattr(module, "_params_init_info"):  # mmengine's record of who set each parameter
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f"{self.__class__.__name__}: alpha={self.alpha}, beta={self.beta}"


@WEIGHT_INITIALIZERS.register_module(name="FactorizedPos")
class FactorizedPosInit:
    """A VidTr's ``pos_embed`` as the sum of one spatial table shared by every frame, N(0, spatial_std),
    and one temporal table shared by every location, N(0, temporal_std), whatever the layout
    (index 0 of each is the class tokens' row or column; the ``single`` layout's class token gets both
    zeroth entries). Once filled, every position is a free parameter again, as in inflation."""

    def __init__(self, spatial_std: float = 1.0, temporal_std: float = 0.5):
        self.spatial_std = _number("FactorizedPos", "spatial_std", spatial_std)
        self.temporal_std = _number("FactorizedPos", "temporal_std", temporal_std)
        self.wholemodule = False

    @torch.no_grad()
    def __call__(self, module: nn.Module) -> None:
        spec = getattr(module, "spec", None)
        if spec is None or not hasattr(module, "pos_embed"):
            raise TypeError(f"FactorizedPos initialises a VidTr backbone; got {type(module).__name__}")
        pos, n, t = module.pos_embed, spec.num_patches, spec.tokens_t
        spatial = torch.randn(n + 1, pos.shape[-1]) * self.spatial_std
        temporal = torch.randn(t + 1, pos.shape[-1]) * self.temporal_std
        grid = temporal[:, None] + spatial[None]  # (T+1, N+1, D): the grid layout's positions
        if spec.layout == "single":
            values = torch.cat([grid[0, :1], grid[1:, 1:].flatten(0, 1)])
        elif spec.layout == "frame":
            values = grid[1:] if spec.temporal_pos_embed else spatial
        else:
            values = grid
        pos.copy_(values.reshape(pos.shape))
        if hasattr(module, "_params_init_info"):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f"{self.__class__.__name__}: spatial_std={self.spatial_std}, temporal_std={self.temporal_std}"
