"""The demo's datasets: clips whose classes are defined by temporal structure alone, rendered by
a virtual camera over real pixels that ship in PyPI packages (:mod:`.sources`,
:mod:`.camera`), written as mmaction2 video datasets.

Two tasks (``camera`` for mini Table 4b, ``burst`` for mini Table 4d), each under
``<root>/<task>/``: ``videos/{train,test}/NNNNN.avi``, ``train_list.txt`` / ``test_list.txt``
(``videos/train/00042.avi 3``), ``classes.txt`` and ``manifest.json``.

Time-reversal pairs
    Every rendered clip is written twice: as rendered, and played backwards under its reversal
    class (pan left <-> pan right, pan up <-> pan down, zoom in <-> zoom out, still <-> still).
    Within a reversal pair of classes, the two clips hold the same frames,
    so a model blind to frame order scores them alike and gets exactly one of the two right: the
    order-pair accuracy (:func:`.stats.order_pair_accuracy`) of such a model is 50%.

Shortcuts that are closed
    * Appearance: the classes of a task are rendered over the same sources, each source group
      contributing the same number of clips to every class, at random positions and scales; a
      clip and its reversal share every frame.
    * Compression: Motion-JPEG (intra-only: each frame an independent JPEG), so a frame's decoded
      pixels depend on that frame alone and a reversed clip decodes to the reversed frames,
      bit for bit; no codec trace of the playing direction.
    * Names and metadata: neutral file names (``00042.avi``) in a seeded shuffled order, the same
      frame count, size and frame rate for every clip; the class is in the lists and the manifest
      only.

Train / test split: by source. The images and video groups are shuffled with the seed;
:data:`TEST_IMAGES` images and one video are held out for testing, so the test set measures
generalisation to unseen images and an unseen video, not only to unseen positions in seen ones.

Deterministic given the seed and the source pixels (the manifest records a digest of both the
decoded sources and the rendered clips, so two machines can compare), and idempotent: a manifest
with the same parameters (all its files present) is reused. Only files an earlier build listed in
its manifest, inside the task directory, are ever removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib

import numpy as np

from ..data.video_io import JPEG_QUALITY, count_frames, pick_codec, write_clip
from ..files import atomic_write
from .camera import TASKS, camera_clip
from .sources import Source, describe, load_sources

FORMAT_VERSION = 2
FPS = 8.0
TEST_IMAGES = 6  # held-out images; one video is held out too
TEST_WINDOWS = {"camera": 6, "burst": 6}  # rendered clips per class per test source group (each + its reversal)
VERIFY = 8  # clips of each split read back and compared with what was rendered


def split_sources(sources: list[Source], seed: int) -> dict[str, list[str]]:
    """Source groups (an image, or all shots of one video) -> split, by a seeded shuffle:
    :data:`TEST_IMAGES` images and one video for testing, the rest for training."""
    rng = np.random.default_rng([seed, 7])
    images = sorted({s.group for s in sources if s.kind == "image"})
    videos = sorted({s.group for s in sources if s.kind == "video"})
    images = [images[i] for i in rng.permutation(len(images))]
    videos = [videos[i] for i in rng.permutation(len(videos))]
    n_img = min(TEST_IMAGES, max(0, len(images) - 1))
    n_vid = 1 if len(videos) > 1 else 0
    test = images[:n_img] + videos[:n_vid]
    train = images[n_img:] + videos[n_vid:]
    if not train or not test:
        raise ValueError(f"demo_data: {len(sources)} sources cannot be split into train and test groups")
    return {"train": sorted(train), "test": sorted(test)}


def _load_manifest(path: pathlib.Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _remove_old(task_dir: pathlib.Path, manifest: dict) -> None:
    root = task_dir.resolve()
    for ex in manifest.get("examples", []):
        p = (task_dir / str(ex.get("file", ""))).resolve()
        if p != root and root in p.parents and p.is_file():
            p.unlink()


def _result(task_dir: pathlib.Path, manifest: dict) -> dict:
    return dict(root=task_dir, train=task_dir / "train_list.txt", test=task_dir / "test_list.txt",
                classes=list(manifest["classes"]), reverse=list(manifest["reverse"]),
                num_train=manifest["splits"]["train"]["total"], num_test=manifest["splits"]["test"]["total"],
                manifest=task_dir / "manifest.json", clips_sha256=manifest["clips_sha256"])


def _render(task: str, split: str, groups: list[str], by_group: dict[str, list[Source]], windows: int,
            rng: np.random.Generator, frames: int, size: int) -> list[dict]:
    """``windows`` rendered clips per class per source group, each followed by its reversal."""
    classes, reverse = TASKS[task]
    items = []
    for group in groups:
        shots = [s for s in by_group[group] if s.frames.shape[0] == 1 or s.frames.shape[0] >= frames]
        for w in range(windows):
            for cls in range(len(classes)):
                src = shots[int(rng.integers(len(shots)))]
                clip, info = camera_clip(src.frames, cls, rng, frames, size, task)
                pair = len(items) // 2
                for reversed_, c, frames_ in ((False, cls, clip), (True, reverse[cls], clip[::-1])):
                    items.append(dict(split=split, label=c, cls=classes[c], pair=pair, reversed=reversed_,
                                      source=src.name, clip=np.ascontiguousarray(frames_), **info))
    return items


def build_demo_dataset(root: str | os.PathLike, task: str = "camera", windows: int = 20, seed: int = 0,
                       frames: int = 8, size: int = 32, sources: list[Source] | None = None,
                       test_windows: int | None = None) -> dict:
    """Render task ``task`` into ``<root>/<task>/``; return where it is.

    ``windows``: rendered clips per class per training source group (each written with its
    reversal, so the training set holds ``2 * windows * classes * groups`` clips);
    ``test_windows``: the same for the test groups (default :data:`TEST_WINDOWS`);
    ``sources``: :class:`~.sources.Source` list (default: every packaged source).

    Returns ``dict(root, train, test, classes, reverse, num_train, num_test, manifest, clips_sha256)``.
    """
    if task not in TASKS:
        raise ValueError(f"unknown demo task {task!r}; valid: {', '.join(TASKS)}")
    if frames < 4 or size < 16 or windows < 1:
        raise ValueError("need frames >= 4, size >= 16 and windows >= 1")
    classes, reverse = TASKS[task]
    test_windows = TEST_WINDOWS[task] if test_windows is None else test_windows
    task_dir = pathlib.Path(root) / task
    sources = load_sources() if sources is None else sources
    split = split_sources(sources, seed)
    params = dict(format_version=FORMAT_VERSION, task=task, classes=list(classes), reverse=list(reverse),
                  frames=int(frames), size=int(size), seed=int(seed), windows=int(windows),
                  test_windows=int(test_windows), sources=describe(sources), split=split)
    old = _load_manifest(task_dir / "manifest.json")
    if old is not None and old.get("params") == params and all((task_dir / ex["file"]).is_file()
                                                               for ex in old["examples"]):
        return _result(task_dir, old)
    task_dir.mkdir(parents=True, exist_ok=True)
    if old is not None:
        _remove_old(task_dir, old)

    by_group: dict[str, list[Source]] = {}
    for s in sources:
        by_group.setdefault(s.group, []).append(s)
    codec, ext = pick_codec(task_dir, size, frames, FPS)
    digest = hashlib.sha256()
    examples, splits = [], {}
    for name, n in (("train", windows), ("test", test_windows)):
        rng = np.random.default_rng([seed, list(TASKS).index(task), name == "test"])
        items = _render(task, name, split[name], by_group, n, rng, frames, size)
        vdir = task_dir / "videos" / name
        vdir.mkdir(parents=True, exist_ok=True)
        rows = []
        for new_id, i in enumerate(rng.permutation(len(items))):
            it = dict(items[int(i)])
            clip = it.pop("clip")
            rel = f"videos/{name}/{new_id:05d}{ext}"
            if not write_clip(task_dir / rel, clip, codec, FPS):
                raise RuntimeError(f"demo_data: could not write {task_dir / rel}")
            if new_id < VERIFY:
                _verify(task_dir / rel, clip, codec)
            digest.update(clip.tobytes())
            rows.append(dict(file=rel, **it))
        atomic_write(task_dir / f"{name}_list.txt", "".join(f"{r['file']} {r['label']}\n" for r in rows))
        examples += rows
        splits[name] = dict(total=len(rows), groups=split[name],
                            per_class={c: sum(r["cls"] == c for r in rows) for c in classes})
    atomic_write(task_dir / "classes.txt", "".join(f"{c}\n" for c in classes))
    manifest = dict(params=params, classes=list(classes), reverse=list(reverse), codec=codec,
                    container=ext.lstrip("."), fps=FPS, jpeg_quality=JPEG_QUALITY if codec == "MJPG" else None,
                    clips_sha256=digest.hexdigest(), splits=splits, examples=examples)
    atomic_write(task_dir / "manifest.json", json.dumps(manifest, indent=1))  # last: it marks the set complete
    return _result(task_dir, manifest)


def _verify(path: pathlib.Path, clip: np.ndarray, codec: str) -> None:
    """The written clip reads back (as training reads it) with its frame count, size and pixels
    (within JPEG's error)."""
    n, hw = count_frames(path)
    if n != clip.shape[0] or hw != clip.shape[1:3]:
        raise RuntimeError(f"demo_data: {path} reads back as {n} frames of {hw}, expected "
                           f"{clip.shape[0]} of {clip.shape[1:3]}")
    if codec == "MJPG":
        back = read_clip(path)
        err = np.abs(back.astype(np.int16) - clip).mean()
        if err > 8:
            raise RuntimeError(f"demo_data: {path} decodes {err:.1f} grey levels away from what was written")


def read_clip(path: str | os.PathLike) -> np.ndarray:
    """Every frame of a demo clip, (T, H, W, 3) uint8 RGB, decoded by path with decord."""
    import decord

    vr = decord.VideoReader(str(path))
    return vr.get_batch(list(range(len(vr)))).asnumpy()
