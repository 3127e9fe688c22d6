"""The VidTr family: every named configuration, layouts, pooling, attention paths."""
import pytest
import torch
from conftest import tiny
from mmaction.structures import ActionDataSample

import vidtr
from vidtr.vidtr import VidTrAttention, std_topk_indices

ALL = vidtr.list_models()


@pytest.mark.parametrize("name", ALL)
def test_named_model_builds_through_registry_and_trains(name):
    """Each named model is an mmaction2 Recognizer3D; forward + backward at reduced size."""
    model = vidtr.build_recognizer(name, num_classes=5, **tiny(name))
    assert type(model).__name__ == "Recognizer3D" and type(model.backbone).__name__ == "VidTr"
    spec = model.backbone.spec
    x = torch.randn(2, 1, 3, spec.num_frames, spec.img_size, spec.img_size)
    samples = [ActionDataSample().set_gt_label(torch.tensor([i])) for i in range(2)]
    loss = model.loss(x, samples)["loss_cls"]
    assert torch.isfinite(loss)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads["backbone.patch_embed.proj.weight"].abs().sum() > 0
    assert grads["backbone.blocks.0.attn.qkv.weight"].abs().sum() > 0
    # every parameter that takes part in the forward pass receives a gradient
    unused = [n for n, g in grads.items() if g is None]
    assert unused == [], unused


def test_vidtr_s_full_size_forward_and_parameter_count():
    """VidTr-S at 1x3x8x224x224; its parameters are ViT-B/16's plus its tokens and head."""
    import timm

    model = vidtr.build_recognizer("vidtr_s_8x8", num_classes=400).eval()
    with torch.no_grad():
        feat = model.backbone(torch.randn(1, 3, 8, 224, 224))
    assert feat.shape == (1, 768) and torch.isfinite(feat).all()
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    vit_tokens = vit.cls_token.numel() + vit.pos_embed.numel()
    vidtr_tokens = (197 + 8) * 768 + 9 * 197 * 768  # cls_t + cls_s, (T+1) x 197 positions
    head = 768 * 400 + 400
    n_vit = sum(p.numel() for p in vit.parameters())
    n_vidtr = sum(p.numel() for p in model.parameters())
    assert n_vidtr == n_vit - vit_tokens + vidtr_tokens + head


def test_std_topk_keeps_rows_with_largest_std_in_temporal_order():
    # rows: 0 uniform (std 0), 1 peaked (large std), 2 mild, 3 very peaked
    attn = torch.tensor([[0.25, 0.25, 0.25, 0.25],
                         [0.70, 0.10, 0.10, 0.10],
                         [0.30, 0.30, 0.20, 0.20],
                         [0.00, 0.00, 0.00, 1.00]]).view(1, 1, 1, 4, 4)
    assert std_topk_indices(attn, 2).flatten().tolist() == [1, 3]
    assert std_topk_indices(attn, 3).flatten().tolist() == [1, 2, 3]
    # each spatial position (and head) ranks its own rows
    other = torch.tensor([[1.0, 0, 0, 0], [0.25] * 4, [0, 1.0, 0, 0], [0.25] * 4]).view(1, 1, 1, 4, 4)
    both = torch.cat([attn, other], dim=2)  # two spatial positions
    assert std_topk_indices(both, 2).tolist() == [[[[1, 3], [0, 2]]]]
    # the same ranking as torch.std (unbiased) over the keys
    assert std_topk_indices(both, 2).tolist() == both.std(-1).topk(2).indices.sort(-1).values.tolist()
    # class_row: row 0 is left out of the ranking (other's row 0 is its most peaked) and always kept
    assert std_topk_indices(both, 1, class_row=True).tolist() == [[[[0, 3], [0, 2]]]]


@pytest.mark.parametrize("name,lengths", [
    ("cvidtr_s_8x8", [8, 6, 6, 4, 4, 2, 2, 2, 2, 2, 2, 2]),
    ("cvidtr_m_16x4", [16, 8, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2]),
    ("cvidtr_l_32x2", [32, 16, 8, 8, 4, 4, 2, 2, 2, 2, 2, 2]),
    ("cvidtr_s_avgpool_8x8", [8, 4, 4, 2] + [2] * 8),
    ("cvidtr_s_ds6_8_8x8", [8] * 6 + [4, 4, 2, 2, 2, 2]),
    ("vidtr_s_cubic2x16_8x8", [4] * 12),
])
def test_temporal_length_follows_schedule(name, lengths):
    model = vidtr.build_backbone(name, **tiny(name)).eval()
    assert model.spec.temporal_lengths() == lengths
    spec = model.spec
    class_rows = 1 if spec.layout == "grid" else 0  # the grid's row of temporal class tokens
    seen = []
    for blk in model.blocks:
        blk.register_forward_hook(lambda m, i, o: seen.append(o[0].shape[1] - class_rows))
    model(torch.randn(1, 3, spec.num_frames, spec.img_size, spec.img_size))
    assert seen == lengths


def test_compact_layers_after_last_pool_are_joint():
    model = vidtr.build_backbone("cvidtr_s_8x8", **tiny("cvidtr_s_8x8"))
    modes = [b.attn.mode for b in model.blocks]
    assert modes == ["temporal_spatial"] * 6 + ["joint"] * 6
    assert [b.attn.keep for b in model.blocks[:6]] == [None, 6, None, 4, None, 2]
    # fidelity 'paper': the grid of separable VidTr, separable attention in every layer
    paper = vidtr.build_backbone("cvidtr_s_8x8", fidelity="paper", **tiny("cvidtr_s_8x8"))
    assert paper.spec.layout == "grid" and model.spec.layout == "single"
    assert [b.attn.mode for b in paper.blocks] == ["temporal_spatial"] * 12


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("fidelity", ["released", "paper"])
@pytest.mark.parametrize("impl", ["math", "released"])
def test_attention_implementations_agree(name, fidelity, impl):
    """Fused SDPA, materialised maps and the released code's structure: same logits, same gradients."""
    kw = tiny(name, fidelity=fidelity, drop_rate=0.0, attn_drop_rate=0.0)
    fused = vidtr.build_backbone(name, attn_impl="sdpa", **kw)
    other = vidtr.build_backbone(name, attn_impl=impl, **kw)
    other.load_state_dict(fused.state_dict())
    spec = fused.spec
    x = torch.randn(2, 3, spec.num_frames, spec.img_size, spec.img_size)
    out_f, out_o = fused(x), other(x)
    torch.testing.assert_close(out_f, out_o, atol=1e-5, rtol=1e-4)
    out_f.square().sum().backward()
    out_o.square().sum().backward()
    for p_f, p_o in zip(fused.parameters(), other.parameters()):
        if p_f.grad is not None:
            torch.testing.assert_close(p_f.grad, p_o.grad, atol=1e-4, rtol=1e-3)  # fp32 sums in another order


def test_rollout_maps_are_recorded_on_the_math_path():
    model = vidtr.build_backbone("vidtr_s_8x8", attn_impl="math", **tiny("vidtr_s_8x8")).eval()
    for attn in model.attention_modules():
        attn.record_maps = True
    model(torch.randn(1, 3, 8, 32, 32))
    maps = model.blocks[3].attn.maps
    assert maps["temporal"].shape == (1, 4, 5, 9, 9)  # (B, heads, N+1 columns, T+1, T+1)
    assert maps["spatial"].shape == (1, 4, 9, 5, 5)  # (B, heads, T+1 rows, N+1, N+1)
    torch.testing.assert_close(maps["spatial"].sum(-1), torch.ones(1, 4, 9, 5))


def test_spatial_only_without_temporal_positions_is_blind_to_frame_order():
    model = vidtr.build_backbone("vidtr_s_spatial_only_8x8", temporal_pos_embed=False,
                                 **tiny("vidtr_s_spatial_only_8x8")).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    shuffled = x[:, :, torch.randperm(8)]
    torch.testing.assert_close(model(x), model(shuffled), atol=1e-6, rtol=1e-5)
    temporal = vidtr.build_backbone("vidtr_s_8x8", **tiny("vidtr_s_8x8")).eval()
    assert not torch.allclose(temporal(x), temporal(shuffled), atol=1e-4)


def test_paper_fidelity_has_independent_projections_and_gelu():
    released = vidtr.build_backbone("vidtr_s_8x8", **tiny("vidtr_s_8x8"))
    paper = vidtr.build_backbone("vidtr_s_8x8", fidelity="paper", **tiny("vidtr_s_8x8"))
    assert not hasattr(released.blocks[0].attn, "qkv_t")
    assert paper.blocks[0].attn.qkv_t.weight.shape == paper.blocks[0].attn.qkv.weight.shape
    assert type(released.blocks[0].mlp.act).__name__ == "ReLU"
    assert type(paper.blocks[0].mlp.act).__name__ == "GELU"
    assert released.norm.eps == 1e-5 and paper.norm.eps == 1e-6


def test_unknown_model_name_lists_valid_names():
    with pytest.raises(KeyError) as e:
        vidtr.build_backbone("vidtr_xl_8x8")
    assert "vidtr_xl_8x8" in str(e.value) and "cvidtr_s_8x8" in str(e.value)
    with pytest.raises(KeyError, match="valid names"):
        vidtr.build_recognizer("nope")


def test_pooling_schedule_that_drops_too_many_frames_is_refused():
    with pytest.raises(ValueError, match="drops more frames than the clip has"):
        vidtr.build_backbone("cvidtr_s_8x8", num_frames=4, **tiny("cvidtr_s_8x8"))
    with pytest.raises(ValueError, match="halves T"):
        vidtr.build_backbone("cvidtr_s_avgpool_8x8", pool_keep=(3, 2), **tiny("cvidtr_s_8x8"))
    with pytest.raises(ValueError, match="pool_layers"):
        vidtr.build_backbone("cvidtr_s_8x8", pool_layers=(1, 3, 12), **tiny("cvidtr_s_8x8"))


def test_bad_option_and_bad_input_are_named():
    with pytest.raises(TypeError, match="unknown option.*'heads'"):
        vidtr.build_backbone("vidtr_s_8x8", heads=3)
    with pytest.raises(ValueError, match="temporal_mode='diagonal'"):
        vidtr.build_backbone("vidtr_s_8x8", temporal_mode="diagonal")
    model = vidtr.build_backbone("vidtr_s_8x8", **tiny("vidtr_s_8x8"))
    with pytest.raises(ValueError, match=r"expects .*\(B, 3, 8, 32, 32\).*got \(1, 3, 4, 32, 32\)"):
        model(torch.randn(1, 3, 4, 32, 32))


def test_recognizer_averages_softmax_over_views():
    """30-view testing: the head averages per-view softmax scores (average_clips='prob')."""
    model = vidtr.build_recognizer("vidtr_s_8x8", num_classes=7, **tiny("vidtr_s_8x8")).eval()
    x = torch.randn(1, 6, 3, 8, 32, 32)  # 6 views of one video
    with torch.no_grad():
        pred = model.predict(x, [ActionDataSample()])[0].pred_score
        per_view = model.cls_head(model.backbone(x[0])).softmax(-1).mean(0)
    torch.testing.assert_close(pred, per_view, atol=1e-6, rtol=1e-5)


def test_attention_module_is_one_class_for_every_variant():
    model_types = {type(b.attn) for n in ALL for b in vidtr.build_backbone(n, **tiny(n)).blocks}
    assert model_types == {VidTrAttention}
