"""An independent, deliberately naive re-statement of the authors' released VidTr forward
pass (amazon-science/gluonmm, VidTr folder), used only by the tests.

It reads a checkpoint in the released key layout and loops over samples, heads, columns
and rows in the released code's sequence-first (L, B, D) layout, so that the vectorised
backbone in ``vidtr/vidtr.py`` is checked against a second, structurally different
implementation. Eval mode only (no dropout).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _ln(x, sd, key):
    return F.layer_norm(x, x.shape[-1:], sd[f"{key}.weight"], sd[f"{key}.bias"], eps=1e-5)


def _mlp(x, sd, i):
    p = f"encoder.layers.{i}"
    h = F.relu(F.linear(_ln(x, sd, f"{p}.norm2"), sd[f"{p}.linear1.weight"], sd[f"{p}.linear1.bias"]))
    return x + F.linear(h, sd[f"{p}.linear2.weight"], sd[f"{p}.linear2.bias"])


def _softmax_attend(q, k, v):
    a = torch.softmax(q @ k.T / q.shape[-1] ** 0.5, dim=-1)
    return a @ v


def released_logits(sd: dict, x: torch.Tensor, heads: int, layer_pool=None, number_of_keys=None,
                    pos_every_layer: bool = False) -> torch.Tensor:
    """Logits of the released split VidTr (``layer_pool`` None) or compact VidTr
    (``layer_pool``: pooling layers, ``number_of_keys``: frames dropped at each)."""
    w = sd["conv_stem.weight"]
    feat = F.conv3d(x, w, sd["conv_stem.bias"], stride=tuple(w.shape[2:]))
    B, D, T, h, ww = feat.shape
    N, dh = h * ww, D // heads
    depth = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers."))
    patches = feat.flatten(3).permute(2, 3, 0, 1)  # (T, N, B, D)
    pos = sd["pos_embedding"][0]

    if layer_pool is None:  # split VidTr on the (T+1) x (N+1) class-token grid
        grid = torch.cat([sd["cls_s"].view(T, 1, 1, D).expand(T, 1, B, D), patches], dim=1)
        grid = torch.cat([sd["cls_t"].view(1, N + 1, 1, D).expand(1, N + 1, B, D), grid], dim=0)
        R, C = T + 1, N + 1
        for i in range(depth):
            p = f"encoder.layers.{i}"
            hin = _ln(grid, sd, f"{p}.norm1")
            if i == 0 or pos_every_layer:
                hin = hin + pos.view(R, C, 1, D)
            q, k, v = F.linear(hin, sd[f"{p}.self_attn.in_proj_weight"], sd[f"{p}.self_attn.in_proj_bias"]).chunk(3, -1)
            out = torch.zeros_like(grid)
            for b in range(B):
                for hd in range(heads):
                    s = slice(hd * dh, (hd + 1) * dh)
                    qh, kh, vh = q[:, :, b, s], k[:, :, b, s], v[:, :, b, s]
                    ot = torch.stack([_softmax_attend(qh[:, c], kh[:, c], vh[:, c]) for c in range(C)], dim=1)
                    out[:, :, b, s] = torch.stack([_softmax_attend(qh[r], kh[r], ot[r]) for r in range(R)], dim=0)
            grid = grid + F.linear(out, sd[f"{p}.self_attn.out_proj.weight"], sd[f"{p}.self_attn.out_proj.bias"])
            grid = _mlp(grid, sd, i)
        return F.linear(_ln(grid, sd, "encoder.norm")[0, 0], sd["fc.weight"], sd["fc.bias"])

    cls = sd["cls"].view(1, 1, D).expand(1, B, D)
    drops = dict(zip(layer_pool, number_of_keys))
    for i in range(depth):
        p = f"encoder.layers.{i}"
        if i > layer_pool[-1]:  # joint attention over [cls; patches] with nn.MultiheadAttention's weights
            seq = torch.cat([cls, patches.flatten(0, 1)], dim=0)
            q, k, v = F.linear(_ln(seq, sd, f"{p}.norm1"), sd[f"{p}.self_attn.in_proj_weight"],
                               sd[f"{p}.self_attn.in_proj_bias"]).chunk(3, -1)
            out = torch.zeros_like(seq)
            for b in range(B):
                for hd in range(heads):
                    s = slice(hd * dh, (hd + 1) * dh)
                    out[:, b, s] = _softmax_attend(q[:, b, s], k[:, b, s], v[:, b, s])
            seq = seq + F.linear(out, sd[f"{p}.self_attn.out_proj.weight"], sd[f"{p}.self_attn.out_proj.bias"])
            seq = _mlp(seq, sd, i)
            cls, patches = seq[:1], seq[1:].view(T, N, B, D)
            continue
        hx, hc = _ln(patches, sd, f"{p}.norm1"), _ln(cls, sd, f"{p}.norm1")
        if i == 0:
            hx, hc = hx + pos[1:].view(T, N, 1, D), hc + pos[:1].view(1, 1, D)
        q, k, v = F.linear(hx, sd[f"{p}.self_attn.in_proj_weight"], sd[f"{p}.self_attn.in_proj_bias"]).chunk(3, -1)
        Tn = T - drops.get(i, 0)
        out = torch.zeros(Tn, N, B, D)
        residual = torch.zeros(Tn, N, B, D)
        for b in range(B):
            for hd in range(heads):
                s = slice(hd * dh, (hd + 1) * dh)
                ot, qs, ks = [], [], []
                for n in range(N):
                    qn, kn, vn = q[:, n, b, s], k[:, n, b, s], v[:, n, b, s]
                    a = torch.softmax(qn @ kn.T / dh ** 0.5, dim=-1)  # (T, T)
                    keep = torch.arange(T)
                    if i in drops:  # std of each row, keep the T-k largest in temporal order, softmax again
                        keep = torch.sort(torch.topk(a.std(dim=1), Tn).indices).values
                        a = torch.softmax(a[keep], dim=-1)
                    ot.append(a @ vn)
                    qs.append(qn[keep])
                    ks.append(kn[keep])
                    residual[:, n, b, s] = patches[keep, n, b, s]
                ot, qs, ks = torch.stack(ot, 1), torch.stack(qs, 1), torch.stack(ks, 1)  # (Tn, N, dh)
                out[:, :, b, s] = torch.stack([_softmax_attend(qs[r], ks[r], ot[r]) for r in range(Tn)], dim=0)
        patches = residual + F.linear(out, sd[f"{p}.self_attn.out_proj.weight"], sd[f"{p}.self_attn.out_proj.bias"])
        cls = cls + hc  # the class token skips split attention
        patches, cls = _mlp(patches, sd, i), _mlp(cls, sd, i)
        T = Tn
    return F.linear(_ln(cls, sd, "encoder.norm")[0], sd["fc.weight"], sd["fc.bias"])
