"""The steps a dataset swaps in for less work give mmaction2's output bit for bit."""
import numpy as np
import pytest
from mmaction.datasets.transforms import RandomRescale, Resize

from benchmark.data.transforms import SameSizeSkippingResize, lean_steps


@pytest.fixture
def resize_calls(monkeypatch):
    """How many frames mmaction2's Resize handed to mmcv.imresize."""
    import mmaction.datasets.transforms.processing as processing

    calls, real = [], processing.mmcv.imresize
    monkeypatch.setattr(processing.mmcv, "imresize", lambda img, *a, **k: calls.append(img.shape) or real(img, *a, **k))
    return calls


def _results(h: int, w: int) -> dict:
    imgs = list(np.random.default_rng(h).integers(0, 256, (8, h, w, 3), dtype=np.uint8))
    return dict(imgs=imgs, img_shape=(h, w), original_shape=(h, w))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "area", "nearest", "lanczos"])
def test_same_size_resize_skips_only_the_copy(resize_calls, interpolation):
    for h, w, resized in ((256, 340, 0), (240, 320, 8)):  # already 256 high: nothing resized
        plain = Resize((-1, 256), interpolation=interpolation)(_results(h, w))
        n = len(resize_calls)
        lean = SameSizeSkippingResize((-1, 256), interpolation=interpolation)(_results(h, w))
        assert len(resize_calls) - n == resized
        assert all(np.array_equal(a, b) for a, b in zip(plain["imgs"], lean["imgs"])) and len(lean["imgs"]) == 8
        assert lean["img_shape"] == plain["img_shape"] and lean["keep_ratio"] == plain["keep_ratio"]
        assert np.array_equal(lean["scale_factor"], plain["scale_factor"])
    rescaled = [RandomRescale((256, 320))(_results(256, 340)) for _ in range(2)]  # not swapped: its size varies
    assert all(r["img_shape"][0] >= 256 for r in rescaled)


def test_shared_or_single_channel_frames_are_resized_as_mmaction2_does(resize_calls):
    """A decoder may put one array in the list twice (a repeated frame index): passed on, an
    in-place Flip after it would flip it twice. Single-channel frames lose their channel axis in
    OpenCV's resize. Both go through the real resize."""
    from mmaction.datasets.transforms import Flip

    frame = np.random.default_rng(0).integers(0, 256, (256, 340, 3), dtype=np.uint8)
    out = {}
    for name, step in (("plain", Resize((-1, 256))), ("lean", SameSizeSkippingResize((-1, 256)))):
        r = step(dict(imgs=[frame.copy()] * 2, img_shape=(256, 340), original_shape=(256, 340), modality="RGB"))
        out[name] = Flip(flip_ratio=1.0)(r)["imgs"]
    assert all(np.array_equal(a, b) for a, b in zip(out["plain"], out["lean"]))
    assert np.array_equal(out["lean"][0], frame[:, ::-1])
    gray = [np.zeros((256, 340, 1), np.uint8)]
    plain = Resize((-1, 256))(dict(imgs=list(gray), img_shape=(256, 340)))["imgs"]
    lean = SameSizeSkippingResize((-1, 256))(dict(imgs=list(gray), img_shape=(256, 340)))["imgs"]
    assert plain[0].shape == lean[0].shape == (256, 340)


def test_lean_steps_swaps_eager_resizes_only():
    pipe = [dict(type="DecordInit"), dict(type="mmaction.Resize", scale=(-1, 256)),
            dict(type="RandomRescale", scale_range=(256, 320)), dict(type="Resize", scale=(-1, 224), lazy=True)]
    out = lean_steps(pipe)
    assert out[1] == dict(type=SameSizeSkippingResize, scale=(-1, 256))
    assert out[0] == pipe[0] and out[2:] == pipe[2:]  # the rescale and the lazy resize are left alone
    assert pipe[1] == dict(type="mmaction.Resize", scale=(-1, 256))  # the config's own list too
    assert lean_steps([dict(type=Resize, scale=(-1, 256))])[0]["type"] is SameSizeSkippingResize
    mmcv_resize = dict(type="mmcv.Resize", scale=(256, 256))  # mmcv's: other keys and defaults
    assert lean_steps([mmcv_resize]) == [mmcv_resize]
