"""The from-scratch initialisers (vidtr/scratch_init.py) and the mini Table 4b recipe that uses them."""
import pytest
import torch
from mmengine.config import Config

import vidtr
from vidtr import build, build_backbone, init_weights_quietly

SMALL = dict(embed_dims=48, num_heads=4, depth=2, img_size=32, patch_size=8, num_frames=8)


def _small(init_cfg, **spec):
    torch.manual_seed(0)
    model = build_backbone("vidtr_s_8x8", **SMALL, **spec, init_cfg=init_cfg)
    init_weights_quietly(model)
    return model


def _head_products(lin, heads):
    """W_q,h^T W_k,h of every head of a fused [q; k; v] projection."""
    d = lin.in_features
    q, k = lin.weight[:d].view(heads, d // heads, d), lin.weight[d:2 * d].view(heads, d // heads, d)
    return q.transpose(1, 2) @ k  # (heads, d, d)


def test_mimetic_qk_sets_the_query_key_product_and_touches_nothing_else():
    """Summed over heads, W_q^T W_k is the target (beta * I when alpha = 0, which no transposition or
    head mix-up would give for alpha > 0: checked below), for the spatial and the temporal projection;
    everything else keeps what the initialiser before it gave it."""
    xavier = dict(type="Xavier", layer="Linear", distribution="uniform")
    plain = _small(xavier, fidelity="paper")
    model = _small([xavier, dict(type="MimeticQK", alpha=0.0, beta=0.5)], fidelity="paper")
    attn, ref = model.blocks[1].attn, plain.blocks[1].attn
    d = 48
    for name in ("qkv", "qkv_t"):
        lin, lin0 = getattr(attn, name), getattr(ref, name)
        torch.testing.assert_close(_head_products(lin, 4).sum(0), 0.5 * torch.eye(d), atol=1e-5, rtol=0)
        assert torch.equal(lin.weight[2 * d:], lin0.weight[2 * d:]) and torch.equal(lin.bias, lin0.bias)
    untouched = [n for n, p in model.named_parameters()
                 if not n.endswith(("qkv.weight", "qkv_t.weight")) and not torch.equal(p, plain.get_parameter(n))]
    assert untouched == []


def test_mimetic_qk_product_is_the_drawn_target_query_on_the_left():
    """With alpha = beta = 0.7, W_q^T W_k is exactly the target drawn (same seed, same draw): not its
    transpose, not a low-rank part of it."""
    holder = torch.nn.Module()
    holder.qkv = torch.nn.Linear(48, 144)
    torch.manual_seed(3)
    vidtr.scratch_init.MimeticQKInit()(holder)
    torch.manual_seed(3)
    target = 0.7 * torch.randn(48, 48) / 48 ** 0.5 + 0.7 * torch.eye(48)
    w = holder.qkv.weight
    torch.testing.assert_close(w[:48].T @ w[48:96], target, atol=1e-5, rtol=0)
    assert not torch.allclose(target, target.T, atol=1e-3)  # so the orientation is tested


def test_mimetic_qk_heads_go_from_sharp_to_broad():
    """The heads take the target's SVD components in order: the first head's logit of a token with
    itself stands far above its logits with other tokens, each later head's less, the last head's little."""
    model = _small([dict(type="Xavier", layer="Linear", distribution="uniform"), dict(type="MimeticQK")])
    x = torch.nn.functional.layer_norm(torch.randn(256, 48), (48,))
    gaps = []
    for p in _head_products(model.blocks[0].attn.qkv, 4):
        logits = x @ p @ x.T / 12 ** 0.5
        own = torch.diagonal(logits)
        gaps.append((own.mean() - (logits.sum() - own.sum()) / (256 * 255)).item())
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 3.0 and gaps[-1] < 1.0, gaps


@pytest.mark.parametrize("spec", [dict(temporal_mode="joint"), dict(temporal_mode="temporal_spatial"),
                                  dict(temporal_mode="spatial_only"),
                                  dict(temporal_mode="spatial_only", temporal_pos_embed=False)])
def test_factorized_pos_shares_one_spatial_table_across_frames(spec):
    """Every frame's positions differ from every other frame's by one vector per frame pair: the
    spatial part is shared; its spread is spatial_std."""
    model = _small(dict(type="FactorizedPos", spatial_std=2.0, temporal_std=0.5), **spec)
    cls_pos, grid = model._positions(model.spec.tokens_t, model.spec.num_patches)
    grid = grid[0]  # (rows, columns, D)
    frames = grid[1:, 1:] if model.spec.layout == "grid" else grid  # patch positions: (T or 1, N(+1), D)
    offsets = frames - frames[:1]  # each frame minus the first
    torch.testing.assert_close(offsets, offsets[:, :1].expand_as(offsets), atol=1e-5, rtol=0)
    spatial = frames[0] - frames[0].mean(0)
    assert spatial.std().item() == pytest.approx(2.0, rel=0.2)
    if len(frames) > 1:
        assert offsets[1:, 0].norm(dim=-1).min() > 0.5  # frames do differ: a temporal part is there
    layout = model.spec.layout
    if layout == "grid":  # the class row and column follow the same sum: row r + column c
        parts = grid - grid[:, :1] - grid[:1, :] + grid[:1, :1]
        torch.testing.assert_close(parts, torch.zeros_like(parts), atol=1e-5, rtol=0)
    elif layout == "single":  # the class token: the first temporal row plus the class column, not left at 0.02
        assert cls_pos is not None and cls_pos.norm() > 1.0
    # frame layout: column 0 (each frame's class token) is among the columns checked above


@pytest.mark.parametrize("cfg, message", [
    (dict(type="FactorizedPos", spatial_std="x"), "FactorizedPos: spatial_std='x' is not a number >= 0"),
    (dict(type="MimeticQK", beta=-1), "MimeticQK: beta=-1 is not a number >= 0")])
def test_initialisers_name_a_bad_value(cfg, message):
    from mmengine.registry import WEIGHT_INITIALIZERS, build_from_cfg

    with pytest.raises(ValueError, match=message):
        build_from_cfg(cfg, WEIGHT_INITIALIZERS)


def test_factorized_pos_refuses_a_module_without_vidtr_positions():
    with pytest.raises(TypeError, match="FactorizedPos initialises a VidTr backbone; got Linear"):
        vidtr.scratch_init.FactorizedPosInit()(torch.nn.Linear(2, 2))


def _same_location_attention(config: str) -> float:
    """Share of layer 1's joint attention that a patch token puts on tokens at its own location."""
    cfg = Config.fromfile(config).model.backbone.to_dict()
    cfg.update(temporal_mode="joint")
    torch.manual_seed(0)
    model = build(cfg)
    init_weights_quietly(model)
    attn = model.blocks[0].attn
    attn.record_maps, attn.impl = True, "math"
    with torch.no_grad():
        model.eval()(torch.randn(4, 3, 8, 32, 32))
    maps = attn.maps["joint"][:, :, 1:, 1:]  # patch tokens, (B, heads, T*N, T*N)
    where = torch.arange(maps.shape[-1]) % model.spec.num_patches
    same = (where[:, None] == where[None, :]).float()
    return (maps * same).sum(-1).mean().item()


def test_camera_recipe_starts_joint_attention_at_each_location():
    """Why 4b uses these initialisers: from them, joint attention starts with most of its weight on
    the tokens at the query's own location in every frame (the oracle that lifted joint in trials);
    from demo.py's Xavier start it is uniform (8 of 128 tokens: 6%)."""
    assert _same_location_attention("benchmark/configs/demo.py") < 0.08
    assert _same_location_attention("benchmark/configs/demo_camera.py") > 0.4
