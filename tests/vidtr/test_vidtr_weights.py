"""Weights: ViT inflation (timm, Hugging Face, Google .npz), released checkpoints, safety."""
import argparse

import numpy as np
import pytest
import torch
from conftest import tiny
from released_reference import released_logits
from timm.models.vision_transformer import VisionTransformer

import vidtr
from vidtr.weights import CheckpointError, inflate_vit, read_checkpoint, to_released, vit_to_timm

# --- helpers that write foreign formats (the inverse of what the loader reads) -----------

def timm_to_hf(sd):
    out = {"vit.embeddings.cls_token": sd["cls_token"], "vit.embeddings.position_embeddings": sd["pos_embed"],
           "vit.layernorm.weight": sd["norm.weight"], "vit.layernorm.bias": sd["norm.bias"]}
    for p in ("weight", "bias"):
        out[f"vit.embeddings.patch_embeddings.projection.{p}"] = sd[f"patch_embed.proj.{p}"]
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    for i in range(depth):
        b, h = f"blocks.{i}", f"vit.encoder.layer.{i}"
        for p in ("weight", "bias"):
            q, k, v = sd[f"{b}.attn.qkv.{p}"].chunk(3)
            out.update({f"{h}.attention.attention.query.{p}": q, f"{h}.attention.attention.key.{p}": k,
                        f"{h}.attention.attention.value.{p}": v,
                        f"{h}.attention.output.dense.{p}": sd[f"{b}.attn.proj.{p}"],
                        f"{h}.layernorm_before.{p}": sd[f"{b}.norm1.{p}"],
                        f"{h}.layernorm_after.{p}": sd[f"{b}.norm2.{p}"],
                        f"{h}.intermediate.dense.{p}": sd[f"{b}.mlp.fc1.{p}"],
                        f"{h}.output.dense.{p}": sd[f"{b}.mlp.fc2.{p}"]})
    return out


def timm_to_npz(sd, path, heads):
    """Write a timm ViT state dict in Google's big_vision/ViT .npz layout."""
    n = lambda t: t.detach().numpy()  # noqa: E731
    D = sd["cls_token"].shape[-1]
    w = {"embedding/kernel": n(sd["patch_embed.proj.weight"].permute(2, 3, 1, 0)),
         "embedding/bias": n(sd["patch_embed.proj.bias"]), "cls": n(sd["cls_token"]),
         "Transformer/posembed_input/pos_embedding": n(sd["pos_embed"]),
         "Transformer/encoder_norm/scale": n(sd["norm.weight"]), "Transformer/encoder_norm/bias": n(sd["norm.bias"])}
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    for i in range(depth):
        b, g = f"blocks.{i}", f"Transformer/encoderblock_{i}/"
        m = g + "MultiHeadDotProductAttention_1/"
        for j, name in enumerate(("query", "key", "value")):
            w[f"{m}{name}/kernel"] = n(sd[f"{b}.attn.qkv.weight"].chunk(3)[j].T.reshape(D, heads, -1))
            w[f"{m}{name}/bias"] = n(sd[f"{b}.attn.qkv.bias"].chunk(3)[j].reshape(heads, -1))
        w[f"{m}out/kernel"] = n(sd[f"{b}.attn.proj.weight"].reshape(D, heads, -1).permute(1, 2, 0))
        w[f"{m}out/bias"] = n(sd[f"{b}.attn.proj.bias"])
        for ln, ours in (("LayerNorm_0", "norm1"), ("LayerNorm_2", "norm2")):
            w[f"{g}{ln}/scale"], w[f"{g}{ln}/bias"] = n(sd[f"{b}.{ours}.weight"]), n(sd[f"{b}.{ours}.bias"])
        for dense, ours in (("Dense_0", "fc1"), ("Dense_1", "fc2")):
            w[f"{g}MlpBlock_3/{dense}/kernel"] = n(sd[f"{b}.mlp.{ours}.weight"].T)
            w[f"{g}MlpBlock_3/{dense}/bias"] = n(sd[f"{b}.mlp.{ours}.bias"])
    np.savez(path, **w)


def small_vit(depth=12, dim=32, heads=4, img=32):
    vit = VisionTransformer(img_size=img, patch_size=16, embed_dim=dim, depth=depth, num_heads=heads, num_classes=3)
    with torch.no_grad():  # make biases and norms non-trivial so that a wrong mapping shows
        for p in vit.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return vit.eval()


def randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return module


# --- ViT inflation ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["spatial_only", "joint"])
def test_single_frame_paper_model_reproduces_timm_vit_base(tmp_path, mode):
    """fidelity 'paper', T = 1, inflated ViT-B/16: the clip feature is timm's class token."""
    import timm

    vit = timm.create_model("vit_base_patch16_224", pretrained=False).eval()
    randomise(vit)
    path = tmp_path / "vit_b16.pth"
    torch.save(vit.state_dict(), path)
    model = vidtr.build_backbone("vidtr_s_8x8", temporal_mode=mode, num_frames=1, fidelity="paper",
                                 pretrained=str(path))
    model.init_weights()
    model.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = vit.forward_features(x)[:, 0]
        got = model(x.unsqueeze(2))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_timm_safetensors_hf_and_npz_checkpoints_inflate_identically(tmp_path):
    from safetensors.torch import save_file

    vit = small_vit()
    sd = {k: v.contiguous() for k, v in vit.state_dict().items()}
    torch.save(sd, tmp_path / "timm.pth")
    save_file(sd, str(tmp_path / "timm.safetensors"))
    torch.save({"state_dict": timm_to_hf(sd)}, tmp_path / "hf.bin")
    timm_to_npz(sd, tmp_path / "google.npz", heads=4)
    model = vidtr.build_backbone("vidtr_s_8x8", **tiny("vidtr_s_8x8"))
    ref = inflate_vit(vit_to_timm(read_checkpoint(tmp_path / "timm.pth")), model)
    for name in ("timm.safetensors", "hf.bin", "google.npz"):
        got = inflate_vit(vit_to_timm(read_checkpoint(tmp_path / name)), model)
        assert got.keys() == ref.keys()
        for k in ref:
            torch.testing.assert_close(got[k], ref[k], msg=f"{name}: {k}")


def test_inflation_tiles_positions_and_copies_class_tokens():
    vit = small_vit()
    sd = vit.state_dict()
    grid = inflate_vit(sd, vidtr.build_backbone("vidtr_s_8x8", **tiny("vidtr_s_8x8")))
    pos = grid["pos_embed"].view(9, 5, 32)  # (T+1) x (N+1)
    assert all(torch.equal(pos[r], sd["pos_embed"][0]) for r in range(9))
    assert torch.equal(grid["cls_t"], sd["cls_token"].expand(1, 5, 32))
    assert torch.equal(grid["cls_s"], sd["cls_token"].view(1, 1, 32).expand(8, 1, 32))
    single = inflate_vit(sd, vidtr.build_backbone("cvidtr_s_8x8", **tiny("cvidtr_s_8x8")))
    assert torch.equal(single["pos_embed"][0, 0], sd["pos_embed"][0, 0])
    assert torch.equal(single["pos_embed"][0, 1:].view(8, 4, 32), sd["pos_embed"][0, 1:].expand(8, 4, 32))
    assert "head.weight" in sd and not any(k.startswith("head") for k in grid)


def test_cubic_stem_spreads_the_2d_kernel_over_time():
    vit = small_vit()
    model = vidtr.build_backbone("vidtr_s_cubic2x16_8x8", **tiny("vidtr_s_cubic2x16_8x8"))
    model.load_state_dict(inflate_vit(vit.state_dict(), model), strict=False)
    frame = torch.randn(1, 3, 32, 32)
    clip = frame.unsqueeze(2).expand(1, 3, 8, 32, 32)  # a still clip
    with torch.no_grad():
        cubic = model.patch_embed.proj(clip)  # (1, D, 4, 2, 2)
        flat = vit.patch_embed.proj(frame)  # (1, D, 2, 2)
    for t in range(4):
        torch.testing.assert_close(cubic[:, :, t], flat, atol=1e-5, rtol=1e-5)


def test_paper_fidelity_temporal_attention_starts_from_vit_weights():
    sd = small_vit().state_dict()
    model = vidtr.build_backbone("vidtr_s_8x8", fidelity="paper", **tiny("vidtr_s_8x8"))
    out = inflate_vit(sd, model)
    assert torch.equal(out["blocks.3.attn.qkv_t.weight"], sd["blocks.3.attn.qkv.weight"])


def test_pretrained_in_backbone_config_is_inflated_by_init_weights(tmp_path):
    vit = small_vit()
    torch.save(vit.state_dict(), tmp_path / "vit.pth")
    model = vidtr.build_recognizer("cvidtr_s_8x8", num_classes=4, pretrained=str(tmp_path / "vit.pth"),
                                   **tiny("cvidtr_s_8x8"))
    torch.testing.assert_close(model.backbone.blocks[7].mlp.fc1.weight, vit.blocks[7].mlp.fc1.weight)


@pytest.mark.parametrize("vit_kw,key", [
    (dict(dim=64, heads=4), "patch_embed.proj.weight"),  # wrong width
    (dict(img=48), "pos_embed"),  # 3x3 patches, the model has 2x2
])
def test_checkpoint_that_does_not_fit_is_refused_naming_the_key(tmp_path, vit_kw, key):
    torch.save(small_vit(**vit_kw).state_dict(), tmp_path / "vit.pth")
    model = vidtr.build_backbone("vidtr_s_8x8", pretrained=str(tmp_path / "vit.pth"), **tiny("vidtr_s_8x8"))
    with pytest.raises(CheckpointError, match=key):
        model.init_weights()


def test_checkpoint_with_too_few_blocks_names_the_missing_key(tmp_path):
    torch.save(small_vit(depth=6).state_dict(), tmp_path / "vit.pth")
    model = vidtr.build_backbone("vidtr_s_8x8", pretrained=str(tmp_path / "vit.pth"), **tiny("vidtr_s_8x8"))
    with pytest.raises(CheckpointError, match="blocks.6.norm1.weight"):
        model.init_weights()


# --- the authors' released layout ----------------------------------------------------------

RELEASED = {  # name -> (layer_pool, number_of_keys, pos_every_layer) as the released configs spell them
    "vidtr_s_8x8": (None, None, False),
    "vidtr_m_16x4": (None, None, True),
    "cvidtr_s_8x8": ([1, 3, 5], [2, 2, 2], False),
    "cvidtr_m_16x4": ([1, 2, 4], [8, 4, 2], False),
}


@pytest.mark.parametrize("name", list(RELEASED))
def test_released_checkpoint_gives_the_released_codes_logits(tmp_path, name):
    """A checkpoint in the authors' layout (DDP-prefixed) loads into the model, and the
    logits equal an independent, naive re-statement of the released forward pass."""
    original = vidtr.build_recognizer(name, num_classes=6, **tiny(name))
    randomise(original)
    released_sd = to_released(vidtr.VidTrClassifier(original.backbone, original.cls_head))
    path = tmp_path / "released.pth"
    torch.save({"model": {"module." + k: v for k, v in released_sd.items()}}, path)
    model = vidtr.load_released(name, path, **tiny(name))
    assert not model.training
    spec = model.backbone.spec
    x = torch.randn(2, 3, spec.num_frames, spec.img_size, spec.img_size)
    layer_pool, keys, pos_every = RELEASED[name]
    with torch.no_grad():
        logits = model(x)
        ref = released_logits(released_sd, x, heads=spec.num_heads, layer_pool=layer_pool,
                              number_of_keys=keys, pos_every_layer=pos_every)
    assert logits.shape == (2, 6)
    torch.testing.assert_close(logits, ref, atol=1e-4, rtol=1e-4)


def test_released_checkpoint_that_does_not_fit_names_the_key(tmp_path):
    m = vidtr.build_recognizer("cvidtr_s_8x8", num_classes=6, **tiny("cvidtr_s_8x8"))
    sd = to_released(vidtr.VidTrClassifier(m.backbone, m.cls_head))
    bad = dict(sd, pos_embedding=sd["pos_embedding"][:, :-4])
    torch.save(bad, tmp_path / "short_pos.pth")
    with pytest.raises(CheckpointError, match="'pos_embedding' has shape"):
        vidtr.load_released("cvidtr_s_8x8", tmp_path / "short_pos.pth", **tiny("cvidtr_s_8x8"))
    torch.save(dict(sd, **{"encoder.layers.0.extra.weight": torch.zeros(1)}), tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="encoder.layers.0.extra.weight"):
        vidtr.load_released("cvidtr_s_8x8", tmp_path / "extra.pth", **tiny("cvidtr_s_8x8"))
    missing = {k: v for k, v in sd.items() if k != "encoder.layers.3.linear1.weight"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="encoder.layers.3.linear1.weight"):
        vidtr.load_released("cvidtr_s_8x8", tmp_path / "missing.pth", **tiny("cvidtr_s_8x8"))
    torch.save(sd, tmp_path / "ok.pth")
    with pytest.raises(CheckpointError, match="'fc.weight' has 6 classes"):
        vidtr.load_released("cvidtr_s_8x8", tmp_path / "ok.pth", num_classes=400, **tiny("cvidtr_s_8x8"))
    # a split-VidTr checkpoint is not a compact one
    with pytest.raises(CheckpointError, match="pos_embedding"):
        vidtr.load_released("vidtr_s_8x8", tmp_path / "ok.pth", **tiny("vidtr_s_8x8"))


def test_checkpoints_needing_unpickling_are_refused_unless_trusted(tmp_path):
    sd = small_vit().state_dict()
    path = tmp_path / "pickled.pth"
    torch.save({"state_dict": sd, "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(CheckpointError, match="arbitrary unpickling.*trust"):
        read_checkpoint(path)
    assert read_checkpoint(path, trust=True).keys() == sd.keys()


def test_missing_and_corrupt_checkpoint_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_checkpoint(tmp_path / "nowhere.pth")
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt.pth.*not a readable"):
        read_checkpoint(bad)
    with pytest.raises(CheckpointError, match="not a ViT checkpoint"):
        vit_to_timm({"foo.weight": torch.zeros(1)})
