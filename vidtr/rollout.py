"""Attention rollout (Abnar and Zuidema, 2020) for VidTr, as in the paper's Appendix E.

Per layer the head-averaged attention is mixed with the identity for the residual path,
A' = (A + I) / 2, rows renormalised, and multiplied across layers. For separable VidTr the
temporal maps ((N+1) columns of (T+1) x (T+1)) and the spatial maps ((T+1) rows of
(N+1) x (N+1)) are rolled out separately; the class-token rows give a temporal mask
(N x T) and a spatial mask (T x N), whose product is the spatio-temporal mask (Eq. 12-14).
Joint models roll out their (1 + TN)^2 maps and read the class token's row.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor


def _mixed(attn: Tensor) -> Tensor:
    """Head-averaged attention with the residual identity, rows summing to one: (..., L, L)."""
    a = attn.mean(dim=1)  # average heads: (B, ..., L, L)
    a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
    return a / a.sum(dim=-1, keepdim=True)


@torch.no_grad()
def attention_rollout(backbone, clip: Tensor, layers: Iterable[int] = (4, 8, 12)) -> dict:
    """Run ``backbone`` on ``clip`` (1, 3, T, H, W) with maps materialised and return, for each
    1-based layer in ``layers``, ``spatial`` (T', h, w) and ``spatio_temporal`` (T', h, w)
    masks in [0, 1] and the ``temporal`` frame weights (T',)."""
    spec = backbone.spec
    if spec.layout not in ("grid", "single") or spec.pool is not None:
        # pooled models' temporal maps are rectangular (kept rows x all frames): no rollout composes them
        raise ValueError("rollout supports separable VidTr (temporal_spatial / spatial_temporal) and joint models, "
                         f"not temporal pooling (pool={spec.pool!r})")
    layers = sorted(set(layers))
    if layers[0] < 1 or layers[-1] > spec.depth:
        raise ValueError(f"layers must be in 1..{spec.depth}, got {layers}")
    attns = backbone.attention_modules()
    impl = [a.impl for a in attns]
    for a in attns:
        a.record_maps, a.impl, a.maps = True, "math", {}
    was_training = backbone.training
    try:
        backbone.eval()(clip)
        maps = [dict(a.maps) for a in attns]
    finally:
        for a, i in zip(attns, impl):
            a.record_maps, a.impl, a.maps = False, i, {}
        backbone.train(was_training)
    T, side = spec.tokens_t, spec.img_size // spec.patch_size
    N = side * side
    out = {}
    if spec.layout == "grid":
        roll_t = roll_s = None
        for i, m in enumerate(maps, 1):
            t, s = _mixed(m["temporal"])[0], _mixed(m["spatial"])[0]  # (N+1, T+1, T+1), (T+1, N+1, N+1)
            roll_t = t if roll_t is None else t @ roll_t
            roll_s = s if roll_s is None else s @ roll_s
            if i in layers:
                mask_t = roll_t[1:, 0, 1:]  # (N, T): each position's temporal class token over frames
                mask_s = roll_s[1:, 0, 1:]  # (T, N): each frame's spatial class token over patches
                st = mask_t.T * mask_s  # (T, N)
                out[i] = dict(spatial=_norm(mask_s).view(T, side, side), spatio_temporal=_norm(st).view(T, side, side),
                              temporal=_norm(mask_t.mean(0)))
        return out
    roll = None
    for i, m in enumerate(maps, 1):
        a = _mixed(m["joint"])[0]  # (1+TN, 1+TN)
        roll = a if roll is None else a @ roll
        if i in layers:
            cls = roll[0, 1:].view(T, N)
            out[i] = dict(spatial=_norm(cls / cls.sum(1, keepdim=True)).view(T, side, side),
                          spatio_temporal=_norm(cls).view(T, side, side), temporal=_norm(cls.sum(1)))
    return out


def _norm(x: Tensor) -> Tensor:
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)


def top_fraction(mask: Tensor, fraction: float = 0.3) -> Tensor:
    """Boolean mask of the top ``fraction`` of values (the paper highlights the top 30%)."""
    k = max(1, int(round(fraction * mask.numel())))
    threshold = mask.flatten().topk(k).values.min()
    return mask >= threshold
