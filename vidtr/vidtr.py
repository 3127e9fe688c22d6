"""VidTr: Video Transformer Without Convolutions (Li et al., ICCV 2021), as one backbone.

One attention module, :class:`VidTrAttention`, covers the family; its options select the variant:

* ``temporal_mode``: ``joint`` (vanilla video transformer over all tokens),
  ``temporal_spatial`` (VidTr), ``spatial_temporal`` (reversed order), ``spatial_only``
  (per-frame attention, per-frame class tokens averaged; Table 4b).
* ``pool`` + ``pool_layers`` + ``pool_keep``: temporal down-sampling inside chosen layers
  (compact VidTr): ``std_topk`` (the paper's), ``avg`` and ``conv1d`` (stride 2, Table 4d).
* ``fidelity``: ``released`` reproduces the authors' released code; ``paper`` follows the
  paper's equations (Sec. 3). Each difference is listed on :class:`VidTrSpec`.
* ``attn_impl``: ``sdpa`` (fused ``scaled_dot_product_attention`` wherever no attention
  map is needed), ``math`` (maps materialised; used for rollout) or ``released`` (the
  released code's structure, :class:`ReleasedStructureAttention`: contiguous copies and
  ``bmm``; the speed baseline). Same outputs.

Named configurations (Table 1, Table 2's Vanilla-Tr, one per Table 4 row) are partial
specs in :attr:`VidTr.arch_zoo`, selected by ``VidTr(arch=NAME)``.

Token layouts (rows are time, columns are space):

* ``grid`` (separable VidTr): (T+1) x (N+1); row 0 holds N+1 temporal class tokens,
  column 0 of rows 1..T the spatial class tokens; token (0, 0) is the clip feature.
* ``single`` (joint, and compact VidTr of the ``released`` fidelity): one class token plus
  a T x N patch grid. In the compact model's separable layers the class token skips
  attention; after the last pooling layer every layer is joint attention over 1 + T'N
  tokens (released code).
* ``frame`` (spatial only): T x (N+1), one class token per frame, features averaged.

The compact VidTr of the ``paper`` fidelity keeps the ``grid`` layout and separable
attention in every layer; its pooling layers shrink the T patch rows and always keep the
row of temporal class tokens: (T+1) x (N+1) -> (T'+1) x (N+1).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from timm.layers import Mlp, trunc_normal_
from torch import Tensor, nn

from .weights import load_vit_into

TEMPORAL_MODES = ("joint", "temporal_spatial", "spatial_temporal", "spatial_only")
POOLINGS = (None, "std_topk", "avg", "conv1d")
FIDELITIES = ("released", "paper")
ATTN_IMPLS = ("sdpa", "math", "released")


@dataclasses.dataclass(frozen=True)
class VidTrSpec:
    """Every option of the backbone. Named configurations (``vidtr.list_models()``) are
    partial specs; keyword overrides are checked against these field names.

    ``fidelity='released'`` (default) versus ``'paper'``:

    * projections: released shares one qkv projection between the two attentions, the
      second attention's values being the first one's output, and has one output
      projection; paper gives each attention its own qkv and output projections (Eq. 5-8).
    * activation: released builds its MLP with ReLU; paper uses GELU (Sec. 3.3).
    * positional embedding: released adds it to the attention input only (q = k = v =
      LN(x) + pos) in layer 0, or in every layer when ``pos_every_layer`` (its 16-frame
      model); paper adds it once to the tokens, as ViT does.
    * std-topK: released applies softmax again to the kept rows (double softmax); paper
      keeps the softmaxed rows as they are (Eq. 9 selects rows of Attn_t).
    * LayerNorm eps: released uses PyTorch's default 1e-5; paper builds on ViT (1e-6).
    * compact layout (``pool`` set): released has one class token that skips the separable
      layers and switches to joint attention over 1 + T'N tokens after the last pooling
      layer (so a pooling layer may not be the last layer). Paper keeps the ``grid`` layout
      of VidTr, (T+1) x (N+1) with temporal and spatial class tokens, and separable
      attention in every layer: Sec. 3.2.2 introduces C-VidTr as temporal down-sampling
      ``pool`` inside Eq. 3 of the separable attention and describes no other change (no
      joint layers); the last layer may pool.
    * std-topK selection (Eq. 9-11, Appendix A): for each spatial location (each column of
      the grid, Eq. 2), sample and head, sigma = the std of each row of the softmaxed
      temporal map Attn_t over its keys, computed on Attn_t[1:, :] only (the class-token
      row is excluded from the ranking and always kept); the ``keep`` rows with the largest
      sigma are kept in temporal order after row 0: T+1 -> keep+1 rows. Our reading of what
      the paper leaves open: sigma runs over all T+1 keys of a row (the ``:`` of
      Attn_t[1:, :]; the normalisation, 1/T or unbiased, does not change the ranking);
      selection is per head, since pool is applied to Attn_t, the map that multiplies v_t
      in Eq. 3, and each head of MSA_t has its own (the paper never averages maps over
      heads); the residual is gathered with the same indices, per head channel slice, and
      the temporal output keeps exactly the selected rows, so the pooled grid's rows line
      up with its residual. Released selects the same way (per head and position) on its
      class-token-free T x T maps. No attention dropout on a pooling layer's temporal map,
      in either fidelity (the release has none there).
    * avg / conv1d pooling in the paper fidelity: the same grid; the class-token row is
      kept and the T patch rows are halved (stride 2), residual by averaging.
    """

    num_frames: int = 8
    img_size: int = 224
    patch_size: int = 16
    tubelet_size: int = 1  # t of a t x p x p cubic patch (Table 4a)
    embed_dims: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    temporal_mode: str = "temporal_spatial"
    pool: Optional[str] = None
    pool_layers: tuple = ()
    pool_keep: tuple = ()  # temporal length after each pooling layer (Table 1's "T")
    fidelity: str = "released"
    attn_impl: str = "sdpa"
    drop_rate: float = 0.1
    attn_drop_rate: float = 0.1
    pos_every_layer: bool = False
    temporal_pos_embed: bool = True  # spatial_only: False shares one embedding across frames
    in_channels: int = 3
    grad_checkpointing: bool = False  # recompute each layer in backward: memory for long clips

    def __post_init__(self):
        def check(name, value, allowed):
            if value not in allowed:
                raise ValueError(f"VidTr: {name}={value!r} is not one of {list(allowed)}")

        check("temporal_mode", self.temporal_mode, TEMPORAL_MODES)
        check("pool", self.pool, POOLINGS)
        check("fidelity", self.fidelity, FIDELITIES)
        check("attn_impl", self.attn_impl, ATTN_IMPLS)
        object.__setattr__(self, "pool_layers", tuple(self.pool_layers))
        object.__setattr__(self, "pool_keep", tuple(self.pool_keep))
        if self.embed_dims % self.num_heads:
            raise ValueError(f"VidTr: embed_dims={self.embed_dims} is not divisible by num_heads={self.num_heads}")
        if self.num_frames % self.tubelet_size:
            raise ValueError(f"VidTr: num_frames={self.num_frames} is not a multiple of "
                             f"tubelet_size={self.tubelet_size}")
        if self.img_size % self.patch_size:
            raise ValueError(f"VidTr: img_size={self.img_size} is not a multiple of patch_size={self.patch_size}")
        if self.pool is not None and self.pos_every_layer:
            raise ValueError("VidTr: pos_every_layer is not supported with temporal pooling")
        self.temporal_lengths()  # validates the pooling schedule

    @property
    def two_stage(self) -> bool:
        return self.temporal_mode in ("temporal_spatial", "spatial_temporal")

    @property
    def layout(self) -> str:
        if self.temporal_mode == "spatial_only":
            return "frame"
        if self.temporal_mode == "joint" or (self.pool is not None and self.fidelity == "released"):
            return "single"
        return "grid"

    @property
    def num_patches(self) -> int:
        return (self.img_size // self.patch_size) ** 2

    @property
    def tokens_t(self) -> int:
        return self.num_frames // self.tubelet_size

    def temporal_lengths(self) -> list[int]:
        """Temporal length of the patch grid after each layer (C-VidTr-S: 8, 6, 6, 4, 4, 2, ...)."""
        if self.pool is None:
            if self.pool_layers or self.pool_keep:
                raise ValueError("VidTr: pool_layers/pool_keep given without pool=...")
            return [self.tokens_t] * self.depth
        if not self.two_stage:
            raise ValueError(f"VidTr: pooling needs a separable temporal_mode, not {self.temporal_mode!r}")
        layers, keeps = self.pool_layers, self.pool_keep
        if not layers or len(layers) != len(keeps):
            raise ValueError(f"VidTr: pool_layers {list(layers)} and pool_keep {list(keeps)} must be non-empty "
                             "and of equal length")
        # single layout: the class token only attends in the joint layers after the last pooling layer
        end = self.depth - 1 if self.layout == "single" else self.depth
        if list(layers) != sorted(set(layers)) or layers[0] < 0 or layers[-1] >= end:
            why = ": at least one joint layer must follow the last pooling layer" if end < self.depth else ""
            raise ValueError(f"VidTr: pool_layers {list(layers)} must be increasing layer indices in [0, {end}){why}")
        lengths, t = [], self.tokens_t
        schedule = dict(zip(layers, keeps))
        for i in range(self.depth):
            if i in schedule:
                keep = schedule[i]
                if not 1 <= keep < t:
                    raise ValueError(
                        f"VidTr: pooling schedule layers {list(layers)} -> T {list(keeps)} drops more frames than "
                        f"the clip has: layer {i} would keep {keep} of {t} frames (clip: {self.num_frames} frames, "
                        f"tubelet {self.tubelet_size})")
                if self.pool in ("avg", "conv1d") and (t % 2 or keep != t // 2):
                    raise ValueError(f"VidTr: pool={self.pool!r} halves T (stride 2): layer {i} has T={t}, "
                                     f"so it must keep {t // 2} frames with an even T, not {keep}")
                t = keep
            lengths.append(t)
        return lengths


def _attend(q: Tensor, k: Tensor, v: Tensor, drop: float, impl: str, need_map: bool = False):
    """Softmax attention over the last-but-one axis, fused (``sdpa``) or with the map
    materialised (``math``, or whenever ``need_map``); returns (output, map or None)."""
    if impl == "sdpa" and not need_map:
        if q.dim() > 4:
            # 4-D inputs for SDPA: its fused CPU/GPU kernels take (B, H, L, E), and inductor
            # (torch 2.14) mis-lowers it on 5-D strided inputs
            lead = q.shape[:-2]
            q, k, v = (t.reshape(-1, *t.shape[-3:]) for t in (q, k, v))
            return F.scaled_dot_product_attention(q, k, v, dropout_p=drop).view(*lead, -1, v.shape[-1]), None
        return F.scaled_dot_product_attention(q, k, v, dropout_p=drop), None
    attn = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    attn = attn.softmax(dim=-1)
    return F.dropout(attn, drop, training=drop > 0) @ v, attn


def _gather_time(t: Tensor, idx: Tensor) -> Tensor:
    """Gather (..., T, E) along T with (..., T') indices."""
    return t.gather(-2, idx.unsqueeze(-1).expand(*idx.shape, t.shape[-1]))


def _halve_time(t: Tensor) -> Tensor:
    """Average neighbouring frames of (..., T, E): stride-2 temporal average pooling."""
    return t.unflatten(-2, (t.shape[-2] // 2, 2)).mean(dim=-2)


def _halve_after_class_row(t: Tensor) -> Tensor:
    """(..., 1+T, E) -> (..., 1+T/2, E): row 0 (temporal class tokens) kept, frames halved."""
    return torch.cat([t[..., :1, :], _halve_time(t[..., 1:, :])], dim=-2)


def _short_softmax(x: Tensor) -> Tensor:
    """Softmax over a short last axis (the T x T temporal maps). On the CPU torch's softmax
    kernel is ~5x slower than these elementwise ops on 8-wide rows (measured, torch 2.14);
    on a GPU its fused kernel is kept."""
    if x.is_cuda:
        return x.softmax(dim=-1)
    e = (x - x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def std_topk_indices(attn: Tensor, keep: int, class_row: bool = False) -> Tensor:
    """Rows of softmaxed temporal maps (..., R, L) with the largest standard deviation
    (unbiased, over the L keys), re-sorted into temporal order: (..., keep), ranked
    independently for every leading index (sample, head, spatial position).
    ``class_row``: row 0 holds the temporal class token (paper, Eq. 9): it is left out of
    the ranking and always kept, giving (..., 1 + keep) indices starting with 0."""
    # A softmax row sums to 1, so its mean is 1/L and its std is |row - 1/L| / sqrt(L-1):
    # one norm instead of torch.std, whose reduction over 8-wide rows is ~30x slower on the CPU.
    L = attn.shape[-1]
    rows = attn[..., 1:, :] if class_row else attn
    std = torch.linalg.vector_norm(rows - 1.0 / L, dim=-1) / math.sqrt(L - 1)
    idx = std.topk(keep, dim=-1).indices.sort(dim=-1).values
    if class_row:
        idx = torch.cat([idx.new_zeros(*idx.shape[:-1], 1), idx + 1], dim=-1)
    return idx


class VidTrAttention(nn.Module):
    """Multi-head attention over a (B, R, C, D) token grid (rows = time, columns = space),
    or a (B, L, D) sequence for ``joint``. Returns (output, reduce) where ``reduce`` maps
    any (..., T, E) tensor laid out like the temporal queries to the pooled temporal
    length (None when this layer does not pool). ``impl``: ``sdpa`` or ``math``.
    ``class_row``: row 0 of the grid holds temporal class tokens (``grid`` layout), which
    pooling always keeps; ``keep`` counts the other rows."""

    def __init__(self, dim: int, num_heads: int, mode: str, fidelity: str = "released",
                 pool: Optional[str] = None, keep: Optional[int] = None,
                 attn_drop: float = 0.0, impl: str = "sdpa", class_row: bool = False):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.mode, self.fidelity, self.pool, self.keep = mode, fidelity, pool, keep
        self.class_row = class_row
        self.attn_drop, self.impl = attn_drop, impl
        self.qkv = nn.Linear(dim, dim * 3)  # the spatial (or only) attention
        self.proj = nn.Linear(dim, dim)
        if mode in ("temporal_spatial", "spatial_temporal") and fidelity == "paper":
            self.qkv_t = nn.Linear(dim, dim * 3)  # paper: temporal attention has its own
            self.proj_t = nn.Linear(dim, dim)
        if pool == "conv1d":
            # Depthwise stride-2 temporal convolution, initialised to average pooling so
            # that an inflated ViT starts from the same function as the avg variant.
            self.pool_conv = nn.Conv1d(dim, dim, kernel_size=2, stride=2, groups=dim)
            nn.init.constant_(self.pool_conv.weight, 0.5)
            nn.init.zeros_(self.pool_conv.bias)
        self.record_maps = False  # rollout: keep the maps of the last forward
        self.maps: dict[str, Tensor] = {}

    # (B, ..., D) <-> (B, H, ..., hd)
    def _heads(self, x: Tensor, linear: nn.Linear):
        qkv = linear(x).unflatten(-1, (3, self.num_heads, self.head_dim))
        return qkv.movedim(-3, 0).movedim(-2, 2).unbind(0)

    def _merge(self, o: Tensor, linear: nn.Linear) -> Tensor:
        return linear(o.movedim(1, -2).flatten(-2))

    def _attn(self, q, k, v, name: str):
        drop = self.attn_drop if self.training else 0.0
        out, attn = _attend(q, k, v, drop, self.impl, need_map=self.record_maps)
        if self.record_maps:
            self.maps[name] = attn.detach()
        return out

    def _temporal(self, q: Tensor, k: Tensor, v: Tensor):
        """Attention along time on (B, H, C, T, hd); pools to ``keep`` frames if asked
        (with ``class_row``, T = 1 + frames and row 0 is always kept)."""
        if self.pool is None:
            return self._attn(q, k, v, "temporal"), None
        if self.pool in ("avg", "conv1d"):
            out = self._attn(q, k, v, "temporal")
            halve = _halve_after_class_row if self.class_row else _halve_time
            if self.pool == "avg":
                return halve(out), halve
            head, out = (out[..., :1, :], out[..., 1:, :]) if self.class_row else (None, out)
            B, H, C, T, E = out.shape
            pooled = self.pool_conv(out.permute(0, 2, 1, 4, 3).reshape(B * C, H * E, T))
            pooled = pooled.view(B, C, H, E, T // 2).permute(0, 2, 1, 4, 3)
            return (pooled if head is None else torch.cat([head, pooled], dim=-2)), halve
        # std-topK needs the T x T maps themselves: materialise only these small maps.
        attn = _short_softmax((q @ k.transpose(-2, -1)) * self.head_dim ** -0.5)
        idx = std_topk_indices(attn, self.keep, class_row=self.class_row)
        rows = _gather_time(attn, idx)
        if self.fidelity == "released":
            rows = _short_softmax(rows)  # the released code's second softmax
        if self.record_maps:
            self.maps["temporal"] = rows.detach()
            self.maps["temporal_index"] = idx
        return rows @ v, lambda t: _gather_time(t, idx)

    def forward(self, x: Tensor):
        if self.mode == "joint" or self.mode == "spatial_only":
            q, k, v = self._heads(x, self.qkv)  # (B, H, L, hd) or (B, H, T, N, hd)
            return self._merge(self._attn(q, k, v, self.mode.split("_")[0]), self.proj), None
        tr = lambda t: t.transpose(-3, -2)  # noqa: E731  (B,H,R,C,E) <-> (B,H,C,R,E)
        if self.fidelity == "paper":  # two independent multi-head attentions in sequence
            if self.mode == "temporal_spatial":
                q, k, v = self._heads(x, self.qkv_t)
                o, reduce = self._temporal(tr(q), tr(k), tr(v))
                q, k, v = self._heads(self._merge(tr(o), self.proj_t), self.qkv)
                return self._merge(self._attn(q, k, v, "spatial"), self.proj), reduce
            q, k, v = self._heads(x, self.qkv)
            s = self._merge(self._attn(q, k, v, "spatial"), self.proj)
            q, k, v = self._heads(s, self.qkv_t)
            o, reduce = self._temporal(tr(q), tr(k), tr(v))
            return self._merge(tr(o), self.proj_t), reduce
        # released: one qkv; the second attention reuses q, k and takes the first's output as v
        q, k, v = self._heads(x, self.qkv)
        if self.mode == "temporal_spatial":
            o, reduce = self._temporal(tr(q), tr(k), tr(v))
            if reduce is not None:
                q, k = tr(reduce(tr(q))), tr(reduce(tr(k)))
            o = self._attn(q, k, tr(o), "spatial")
        else:
            s = self._attn(q, k, v, "spatial")
            o, reduce = self._temporal(tr(q), tr(k), tr(s))
            o = tr(o)
        return self._merge(o, self.proj), reduce


class ReleasedStructureAttention(VidTrAttention):
    """The released code's computation of the ``released`` fidelity, kept as the speed
    baseline (``attn_impl='released'``); same parameters, state-dict keys and outputs as
    :class:`VidTrAttention`. Projections run as ``x @ W.t() + b``, every head layout is made
    by permute + ``.contiguous()`` (spatial q, k through two copies, as released), maps are
    materialised with ``bmm``; joint layers go through ``nn.MultiheadAttention``'s own
    function, as released. Under bf16 autocast the fp32 bias promotes ``x @ W.t() + b`` to
    fp32, as it would in the released code. With ``record_maps`` (rollout) it computes as
    VidTrAttention with ``impl='math'``."""

    def __init__(self, dim: int, num_heads: int, mode: str, pool: Optional[str] = None,
                 keep: Optional[int] = None, attn_drop: float = 0.0):
        if mode == "spatial_only":
            raise ValueError("ReleasedStructureAttention: the released code has no spatial-only attention")
        super().__init__(dim, num_heads, mode, "released", pool, keep, attn_drop, impl="math")

    def _attn(self, q, k, v, name: str):
        """The released attention: (batch, L, E) operands, bmm / scale / softmax / dropout / bmm."""
        if self.record_maps:
            return super()._attn(q, k, v, name)
        drop = self.attn_drop if self.training else 0.0
        lead, (L, E) = q.shape[:-2], q.shape[-2:]
        q3, k3, v3 = (t.contiguous().view(-1, t.shape[-2], t.shape[-1]) for t in (q, k, v))
        attn = torch.bmm(q3, k3.permute(0, 2, 1)) / math.sqrt(E)
        attn = F.dropout(attn.softmax(dim=-1), drop, training=drop > 0)
        return torch.bmm(attn, v3).view(*lead, L, v.shape[-1])

    def forward(self, x: Tensor):
        if self.record_maps:  # rollout: the maps, through the materialised path
            return super().forward(x)
        W, b, H = self.qkv.weight, self.qkv.bias, self.num_heads
        if self.mode == "joint":
            seq = x.transpose(0, 1)  # released runs sequence-first
            out = F.multi_head_attention_forward(
                seq, seq, seq, x.shape[-1], H, W, b, None, None, False, self.attn_drop, self.proj.weight,
                self.proj.bias, training=self.training, need_weights=True)[0]
            return out.transpose(0, 1), None
        B, R, C, D = x.shape
        q, k, v = (x @ W.t() + b).view(B, R, C, 3, H, -1).unbind(3)  # (B, R, C, H, E) views
        temporal = lambda t: t.permute(0, 3, 2, 1, 4).contiguous()  # noqa: E731 (B, H, C, R, E)
        spatial = lambda t: t.permute(0, 3, 4, 1, 2).contiguous().permute(0, 1, 3, 4, 2).contiguous()  # noqa: E731
        to_spatial = lambda t: t.transpose(-3, -2).contiguous()  # noqa: E731 (B, H, C, R, E) -> (B, H, R, C, E)
        if self.mode == "temporal_spatial":
            qt, kt = temporal(q), temporal(k)
            o, reduce = self._temporal(qt, kt, temporal(v))
            qs, ks = (to_spatial(reduce(qt)), to_spatial(reduce(kt))) if reduce else (spatial(q), spatial(k))
            o = self._attn(qs, ks, to_spatial(o), "spatial")
        else:
            s = self._attn(spatial(q), spatial(k), spatial(v), "spatial")
            o, reduce = self._temporal(temporal(q), temporal(k), s.transpose(-3, -2).contiguous())
            o = to_spatial(o)
        o = o.permute(0, 2, 3, 1, 4).contiguous().view(B, -1, C, D)
        return o @ self.proj.weight.t() + self.proj.bias, reduce


class Block(nn.Module):
    """Pre-norm transformer layer: x + Attn(LN(x) [+ pos]); x + MLP(LN(x))."""

    def __init__(self, spec: VidTrSpec, mode: str, pool=None, keep=None):
        super().__init__()
        dim, eps = spec.embed_dims, 1e-5 if spec.fidelity == "released" else 1e-6
        act = nn.ReLU if spec.fidelity == "released" else nn.GELU
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        if spec.attn_impl == "released" and spec.fidelity == "released" and mode != "spatial_only":
            self.attn = ReleasedStructureAttention(dim, spec.num_heads, mode, pool, keep, spec.attn_drop_rate)
        else:  # the released code has neither the paper's attention nor spatial-only attention
            impl = "math" if spec.attn_impl == "released" else spec.attn_impl
            self.attn = VidTrAttention(dim, spec.num_heads, mode, spec.fidelity, pool, keep,
                                       spec.attn_drop_rate, impl, class_row=spec.layout == "grid")
        self.drop1 = nn.Dropout(spec.drop_rate)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        # timm's Mlp: fc1 -> act -> dropout -> fc2 -> dropout, as the released layer
        self.mlp = Mlp(dim, int(dim * spec.mlp_ratio), act_layer=act, drop=spec.drop_rate)

    def forward(self, x: Tensor, cls: Optional[Tensor], pos: Optional[tuple]):
        """x: (B, R, C, D) token grid; cls: (B, 1, D) class token kept outside the grid
        (``single`` layout) or None; pos: (cls_pos, grid_pos) for the attention input."""
        if self.attn.mode == "joint":
            B, R, C, D = x.shape
            seq = torch.cat([cls, x.flatten(1, 2)], dim=1)
            h = self.norm1(seq)
            if pos is not None:
                h = h + torch.cat([pos[0], pos[1].flatten(1, 2)], dim=1)
            seq = seq + self.drop1(self.attn(h)[0])
            seq = seq + self.mlp(self.norm2(seq))
            return seq[:, 1:].unflatten(1, (R, C)), seq[:, :1]
        h = self.norm1(x) if pos is None else self.norm1(x) + pos[1]
        out, reduce = self.attn(h)
        if reduce is not None:  # pool the residual like the temporal queries, per head slice (grid: row 0 kept)
            B, T, N, D = x.shape
            res = x.view(B, T, N, self.attn.num_heads, -1).permute(0, 3, 2, 1, 4)
            x = reduce(res).permute(0, 3, 2, 1, 4).reshape(B, -1, N, D)
        x = x + self.drop1(out)
        x = x + self.mlp(self.norm2(x))
        if cls is not None:
            # released compact model: the class token skips separable attention, its
            # "attention output" is its own normed input (plus pos in layer 0)
            h = self.norm1(cls) if pos is None else self.norm1(cls) + pos[0]
            cls = cls + self.drop1(h)
            cls = cls + self.mlp(self.norm2(cls))
        return x, cls


_VIT_B16 = dict(embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.0, patch_size=16)
_VIT_L16 = dict(embed_dims=1024, depth=24, num_heads=16, mlp_ratio=4.0, patch_size=16)
# T2T-ViT-14 sized: width 384, 14 layers, 6 heads, MLP ratio 3. Simplified: a plain 16x16
# patch stem replaces T2T's tokens-to-token module (soft split + small transformers; about
# 2 GFLOPs for 8 frames), so T2T weights do not load. The paper's T2T row counts more than our
# MLP + stem convention mainly because timm's T2T has its attention projections as nn.Linear,
# which the paper's module counter saw (see the Table 4c note).
_T2T_14 = dict(embed_dims=384, depth=14, num_heads=6, mlp_ratio=3.0, patch_size=16)
_S = dict(_VIT_B16, num_frames=8)  # VidTr-S, which Tables 4a-4c vary
_CS = dict(_S, pool="std_topk")  # std-topK C-VidTr-S, which Tables 4d-4f vary


@MODELS.register_module()
class VidTr(BaseModule):
    """VidTr backbone for mmaction2: (B, 3, T, H, W) clips -> (B, D) clip features.

    Args:
        arch: a named configuration (a key of :attr:`arch_zoo`), or None for the defaults.
        pretrained: a local ViT checkpoint (timm/HF state dict, .pth/.safetensors, or
            Google .npz) inflated into this model by :meth:`init_weights`.
        **overrides: any :class:`VidTrSpec` field.
    """

    # Named configurations: partial specs, the rest VidTrSpec's defaults. The name's
    # suffix is the clip (frames x sampling interval) of its config file's pipeline.
    arch_zoo: dict[str, dict] = {
        # Table 1 / 2 / 3
        "vidtr_s_8x8": _S,
        # released: the 16-frame model adds the positional embedding in every layer
        "vidtr_m_16x4": dict(_VIT_B16, num_frames=16, pos_every_layer=True),
        "vidtr_l_32x2": dict(_VIT_B16, num_frames=32),
        # released C-VidTr-S config; Table 1 prints [1,2,4] -> [6,4,2]
        "cvidtr_s_8x8": dict(_CS, pool_layers=(1, 3, 5), pool_keep=(6, 4, 2)),
        "cvidtr_m_16x4": dict(_VIT_B16, num_frames=16, pool="std_topk", pool_layers=(1, 2, 4), pool_keep=(8, 4, 2)),
        "cvidtr_l_32x2": dict(_VIT_B16, num_frames=32, pool="std_topk", pool_layers=(1, 2, 4, 6),
                              pool_keep=(16, 8, 4, 2)),
        "vanilla_tr_8x8": dict(_S, temporal_mode="joint"),
        # Table 4a: patching (VidTr-S)
        "vidtr_s_cubic4x16_8x8": dict(_S, tubelet_size=4),
        "vidtr_s_cubic2x16_8x8": dict(_S, tubelet_size=2),
        "vidtr_s_square1x16_8x8": _S,
        "vidtr_s_square1x32_8x8": dict(_S, patch_size=32),
        # Table 4b: temporal modelling (VidTr-S)
        "vidtr_s_spatial_only_8x8": dict(_S, temporal_mode="spatial_only"),
        "vidtr_s_joint_8x8": dict(_S, temporal_mode="joint"),
        "vidtr_s_temporal_spatial_8x8": _S,
        "vidtr_s_spatial_temporal_8x8": dict(_S, temporal_mode="spatial_temporal"),
        # Table 4c: backbone / initialisation
        "vidtr_t2t14_8x8": dict(_S, **_T2T_14),
        "vidtr_b16_8x8": _S,
        "vidtr_l16_8x8": dict(_S, **_VIT_L16),
        # Table 4d: down-sampling method (C-VidTr-S). Stride-2 pooling cannot keep 6 of 8
        # frames, so avg and conv1d halve T twice at layers 1 and 3 (8 -> 4 -> 2).
        "cvidtr_s_avgpool_8x8": dict(_S, pool="avg", pool_layers=(1, 3), pool_keep=(4, 2)),
        "cvidtr_s_conv1d_8x8": dict(_S, pool="conv1d", pool_layers=(1, 3), pool_keep=(4, 2)),
        "cvidtr_s_stdtopk_8x8": dict(_CS, pool_layers=(1, 3, 5), pool_keep=(6, 4, 2)),
        # Table 4e (layers k, k+2) and 4f (layer 1 and 1+gap): std-topK, T 8 -> 4 -> 2
        **{f"cvidtr_s_ds{a}_{b}_8x8": dict(_CS, pool_layers=(a, b), pool_keep=(4, 2))
           for a, b in [(0, 2), (1, 3), (2, 4), (6, 8), (1, 2), (1, 4), (1, 5)]},
    }

    def __init__(self, arch: Optional[str] = None, pretrained: Optional[str] = None,
                 init_cfg=None, **overrides):
        super().__init__(init_cfg=init_cfg)
        self.arch = arch
        self.spec = spec = resolve_spec(arch, overrides)
        self.pretrained = pretrained
        D, N, T = spec.embed_dims, spec.num_patches, spec.tokens_t
        p = spec.patch_size
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv3d(spec.in_channels, D, (spec.tubelet_size, p, p),
                                          stride=(spec.tubelet_size, p, p))
        layout = spec.layout
        if layout == "grid":
            self.cls_t = nn.Parameter(torch.zeros(1, N + 1, D))  # row 0 (released shapes)
            self.cls_s = nn.Parameter(torch.zeros(T, 1, D))  # column 0 of rows 1..T
            n_pos = (T + 1) * (N + 1)
        else:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
            if layout == "single":
                n_pos = 1 + T * N
            else:
                n_pos = (T if spec.temporal_pos_embed else 1) * (N + 1)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, D))
        # released compact model: joint layers after the last pooling layer; paper: separable throughout
        last_pool = spec.pool_layers[-1] if spec.pool and layout == "single" else spec.depth
        keep = dict(zip(spec.pool_layers, spec.pool_keep))
        self.blocks = nn.ModuleList(
            Block(spec, "joint" if spec.pool and i > last_pool else spec.temporal_mode,
                  spec.pool if i in keep else None, keep.get(i))
            for i in range(spec.depth))
        self.norm = nn.LayerNorm(D, eps=1e-5 if spec.fidelity == "released" else 1e-6)
        self._init_from_scratch()

    @property
    def embed_dims(self) -> int:
        return self.spec.embed_dims

    def _init_from_scratch(self):
        for name in ("pos_embed", "cls_token", "cls_t", "cls_s"):
            if hasattr(self, name):
                trunc_normal_(getattr(self, name), std=0.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def init_weights(self):
        """mmengine hook: inflate ``pretrained`` (a local ViT checkpoint) when given."""
        super().init_weights()
        if self.pretrained:
            load_vit_into(self, self.pretrained)

    def _check_input(self, x: Tensor):
        s = self.spec
        expected = (s.in_channels, s.num_frames, s.img_size, s.img_size)
        if x.dim() != 5 or tuple(x.shape[1:]) != expected:
            shape = ", ".join(map(str, expected))
            raise ValueError(f"VidTr({self.arch or 'custom'}) expects (B, C, T, H, W) = (B, {shape}) "
                             f"clips; got {tuple(x.shape)}. Change num_frames/img_size or the data pipeline.")

    def _positions(self, T: int, N: int):
        """Positional embedding as (cls_pos or None, grid_pos (1, R, C, D))."""
        pos, D = self.pos_embed, self.spec.embed_dims
        layout = self.spec.layout
        if layout == "single":
            return pos[:, :1], pos[:, 1:].view(1, T, N, D)
        if layout == "grid":
            return None, pos.view(1, T + 1, N + 1, D)
        return None, pos.view(1, -1, N + 1, D)  # frame: (1, T or 1, N+1, D)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        x = self.patch_embed.proj(x)  # (B, D, T, h, w)
        B, D, T, h, w = x.shape
        N = h * w
        x = x.flatten(3).permute(0, 2, 3, 1)  # (B, T, N, D), patches in row-major order
        layout, cls = self.spec.layout, None
        if layout == "grid":
            x = torch.cat([self.cls_s.unsqueeze(0).expand(B, -1, -1, -1), x], dim=2)
            x = torch.cat([self.cls_t.unsqueeze(0).expand(B, -1, -1, -1), x], dim=1)
        elif layout == "frame":
            x = torch.cat([self.cls_token.unsqueeze(0).expand(B, T, -1, -1), x], dim=2)
        else:
            cls = self.cls_token.expand(B, -1, -1)
        pos = self._positions(T, N)
        if self.spec.fidelity == "paper":  # paper/ViT: added once to the tokens
            x = x + pos[1]
            cls = cls + pos[0] if cls is not None else None
        for i, blk in enumerate(self.blocks):
            use_pos = self.spec.fidelity == "released" and (i == 0 or self.spec.pos_every_layer)
            if self.spec.grad_checkpointing and self.training and torch.is_grad_enabled():
                x, cls = torch.utils.checkpoint.checkpoint(blk, x, cls, pos if use_pos else None, use_reentrant=False)
            else:
                x, cls = blk(x, cls, pos if use_pos else None)
        if layout == "single":
            return self.norm(cls)[:, 0]
        x = self.norm(x)
        return x[:, 0, 0] if layout == "grid" else x[:, :, 0].mean(dim=1)

    def attention_modules(self) -> list[VidTrAttention]:
        return [blk.attn for blk in self.blocks]


def list_models() -> list[str]:
    return sorted(VidTr.arch_zoo)


def get_arch(name: str) -> dict:
    if name not in VidTr.arch_zoo:
        raise KeyError(f"unknown VidTr model {name!r}; valid names: {', '.join(list_models())}")
    return dict(VidTr.arch_zoo[name])


def resolve_spec(arch: Optional[str], overrides: dict) -> VidTrSpec:
    """Named configuration + keyword overrides -> a validated spec (unknown keys named)."""
    fields = {f.name for f in dataclasses.fields(VidTrSpec)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"VidTr: unknown option(s) {unknown}; valid options: {sorted(fields)}")
    base = get_arch(arch) if arch is not None else {}
    return VidTrSpec(**{**base, **overrides})
