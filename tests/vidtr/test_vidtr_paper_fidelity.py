"""Compact VidTr of fidelity 'paper' (Sec. 3.2.2, Eq. 9-11, Appendix A): std-topK on the
(T+1) x (N+1) grid, per spatial location, the temporal class-token row always kept."""
import pytest
import torch
from conftest import tiny

import vidtr
from benchmark.measure.flops import count_paper_convention
from vidtr.vidtr import Block, VidTrAttention, resolve_spec

POOLED = [n for n in vidtr.list_models() if vidtr.resolve_spec(n, {}).pool is not None]


def _crafted_qkv(T: int, preferred: list[list[int]], E: int = 16):
    """q, k, v of shape (1, 1, C, T+1, E), C = len(preferred): keys are one-hot, so a query
    alpha * e_i attends peakedly to key i (large row std) and a zero query uniformly (std 0).
    Column c's preferred frames (1-based rows) get peaked rows; the class row 0 is the most
    peaked of all, so a selection that ranked it would drop a frame for it."""
    C = len(preferred)
    k = torch.eye(T + 1, E).expand(1, 1, C, T + 1, E).clone()
    q = torch.zeros(1, 1, C, T + 1, E)
    for c, rows in enumerate(preferred):
        q[0, 0, c, 0, 0] = 40.0
        for r in rows:
            q[0, 0, c, r, r] = 8.0 + r  # distinct stds, all below the class row's
    v = torch.randn(1, 1, C, T + 1, E)
    return q, k, v


def test_std_topk_is_per_spatial_location_and_keeps_the_class_row():
    T, keep = 6, 2
    preferred = [[1, 4], [2, 6], [3, 5]]  # three spatial positions, three different frame pairs
    q, k, v = _crafted_qkv(T, preferred)
    attn = VidTrAttention(16, 1, "temporal_spatial", "paper", "std_topk", keep, impl="math", class_row=True)
    attn.record_maps = True
    out, reduce = attn._temporal(q, k, v)
    idx = attn.maps["temporal_index"][0, 0]  # (C, 1 + keep)
    assert idx.tolist() == [[0] + rows for rows in preferred]
    assert (attn.maps["temporal_index"][..., 0] == 0).all()
    # Eq. 9: the kept rows of the softmaxed map, as they are (no second softmax), times v
    full = ((q @ k.transpose(-2, -1)) * 16 ** -0.5).softmax(-1)
    expected_rows = torch.stack([full[0, 0, c, idx[c]] for c in range(3)])
    torch.testing.assert_close(attn.maps["temporal"][0, 0], expected_rows)
    torch.testing.assert_close(out, attn.maps["temporal"] @ v)
    # the class row's output is the unpooled attention's class row
    plain = VidTrAttention(16, 1, "temporal_spatial", "paper", impl="math", class_row=True)
    torch.testing.assert_close(out[..., 0, :], plain._temporal(q, k, v)[0][..., 0, :])
    # reduce (for the residual) keeps the same rows, per column
    grid = torch.randn(1, 1, 3, T + 1, 5)
    torch.testing.assert_close(reduce(grid)[0, 0], torch.stack([grid[0, 0, c, idx[c]] for c in range(3)]))


def test_model_selects_per_column_and_head_and_pools_the_residual_alike():
    name = "cvidtr_s_8x8"
    model = vidtr.build_backbone(name, fidelity="paper", attn_impl="math",
                                 **tiny(name, drop_rate=0.0, attn_drop_rate=0.0)).eval()
    for a in model.attention_modules():
        a.record_maps = True
    model(torch.randn(2, 3, 8, 32, 32))
    for layer, keep in zip(model.spec.pool_layers, model.spec.pool_keep):
        idx = model.blocks[layer].attn.maps["temporal_index"]
        assert idx.shape == (2, 4, 5, keep + 1)  # (B, heads, N+1 columns, class row + kept frames)
        assert (idx[..., 0] == 0).all() and (idx[..., 1:] > 0).all()
        assert (idx.diff(dim=-1) > 0).all()  # temporal order
        flat = idx.flatten(0, 1)  # (B*heads, columns, keep+1)
        assert (flat != flat[:, :1]).any(), "every column kept the same frames"

    # one pooling block: residual gathered with the attention's indices, per head channel slice
    spec = resolve_spec(name, tiny(name, fidelity="paper", drop_rate=0.0, attn_drop_rate=0.0))
    blk = Block(spec, "temporal_spatial", "std_topk", 3).eval()
    blk.attn.impl, blk.attn.record_maps = "math", True
    x = torch.randn(2, 9, 5, 32)
    y, cls = blk(x, None, None)
    assert cls is None and y.shape == (2, 4, 5, 32)
    idx = blk.attn.maps["temporal_index"]  # (B, H, C, 4)
    heads = x.view(2, 9, 5, 4, 8).permute(0, 3, 2, 1, 4)  # (B, H, C, T+1, hd)
    res = heads.gather(-2, idx.unsqueeze(-1).expand(*idx.shape, 8)).permute(0, 3, 2, 1, 4).reshape(2, 4, 5, 32)
    h = res + blk.attn(blk.norm1(x))[0]
    torch.testing.assert_close(y, h + blk.mlp(blk.norm2(h)))


@pytest.mark.parametrize("name", POOLED)
@pytest.mark.parametrize("mode", ["temporal_spatial", "spatial_temporal"])
def test_paper_compact_model_grid_shapes_follow_the_schedule(name, mode):
    model = vidtr.build_backbone(name, fidelity="paper", temporal_mode=mode, **tiny(name)).eval()
    spec = model.spec
    assert spec.layout == "grid" and not hasattr(model, "cls_token")
    assert [b.attn.mode for b in model.blocks] == [mode] * spec.depth  # separable throughout
    seen = []
    for blk in model.blocks:
        blk.register_forward_hook(lambda m, i, o: seen.append(tuple(o[0].shape[1:3])))
    out = model(torch.randn(2, 3, spec.num_frames, spec.img_size, spec.img_size))
    assert out.shape == (2, spec.embed_dims) and torch.isfinite(out).all()
    assert seen == [(t + 1, spec.num_patches + 1) for t in spec.temporal_lengths()]


@pytest.mark.parametrize("name", ["cvidtr_s_8x8", "cvidtr_s_conv1d_8x8", "cvidtr_s_avgpool_8x8"])
def test_paper_compact_sdpa_and_math_agree_spatial_first(name):
    """The named models x fidelities are covered in test_vidtr_model; here the reversed order."""
    kw = tiny(name, fidelity="paper", temporal_mode="spatial_temporal", drop_rate=0.0, attn_drop_rate=0.0)
    fused = vidtr.build_backbone(name, attn_impl="sdpa", **kw)
    math_ = vidtr.build_backbone(name, attn_impl="math", **kw)
    math_.load_state_dict(fused.state_dict())
    assert fused.spec.layout == "grid"
    x = torch.randn(2, 3, 8, 32, 32)
    out_f, out_m = fused(x), math_(x)
    torch.testing.assert_close(out_f, out_m, atol=1e-5, rtol=1e-4)
    out_f.square().sum().backward()
    out_m.square().sum().backward()
    for p_f, p_m in zip(fused.parameters(), math_.parameters()):
        torch.testing.assert_close(p_f.grad, p_m.grad, atol=1e-4, rtol=1e-3)


def test_paper_compact_model_may_pool_in_its_last_layer():
    kw = tiny("cvidtr_s_8x8", pool_layers=(1, 11), pool_keep=(4, 2))
    model = vidtr.build_backbone("cvidtr_s_8x8", fidelity="paper", **kw)
    assert model(torch.randn(1, 3, 8, 32, 32)).shape == (1, 32)
    with pytest.raises(ValueError, match="joint layer must follow"):
        vidtr.build_backbone("cvidtr_s_8x8", **kw)


@pytest.mark.parametrize("name", ["cvidtr_s_8x8", "cvidtr_m_16x4", "cvidtr_s_avgpool_8x8"])
def test_paper_convention_flops_count_patch_tokens_of_the_grid(name):
    """count_paper_convention leaves the grid's class row and column out: the paper-fidelity
    compact model counts as the released one (same MLPs over the same patch tokens)."""
    clip = torch.randn(1, 3, vidtr.resolve_spec(name, {}).num_frames, 32, 32)
    released = count_paper_convention(vidtr.build_backbone(name, **tiny(name)), clip)
    paper = count_paper_convention(vidtr.build_backbone(name, fidelity="paper", **tiny(name)), clip)
    assert paper == pytest.approx(released, rel=1e-12)
