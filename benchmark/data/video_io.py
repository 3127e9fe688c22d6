"""Video files in and out, for the demo dataset, the smoke clips and the rollout pictures: one
reader (every frame OpenCV decodes, cut to a centred square), one writer (a fourcc through
OpenCV; Motion-JPEG by OpenCV's own encoder first), a codec probe, and a frame counter that sees
a clip as training's reader does. Frames go in and out as RGB uint8; OpenCV's BGR stays inside.
The reader counts frames by decoding, never from the container header (opencv-doc's tree.avi
claims 444 frames and decodes 68)."""
from __future__ import annotations

import os
import pathlib
import warnings

import numpy as np

JPEG_QUALITY = 95


def _square(frame: np.ndarray, size: int, crop_first: bool) -> np.ndarray:
    """The centred ``size`` x ``size`` square: crop the centre square, then resize (area when
    shrinking, linear when enlarging); or (``crop_first=False``) resize the short side to
    ``size`` (area), then crop."""
    import cv2

    h, w = frame.shape[:2]
    if crop_first:
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        interp = cv2.INTER_AREA if s >= size else cv2.INTER_LINEAR
        return cv2.resize(frame[y : y + s, x : x + s], (size, size), interpolation=interp)
    scale = size / min(h, w)
    frame = cv2.resize(frame, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=cv2.INTER_AREA)
    y, x = (frame.shape[0] - size) // 2, (frame.shape[1] - size) // 2
    return frame[y : y + size, x : x + size]


def decoded_frames(cap):
    """Every frame an opened ``cv2.VideoCapture`` decodes (OpenCV's BGR, as decoded), until the
    first it cannot; releases the capture at the end."""
    try:
        while True:
            ok, fr = cap.read()
            if not ok or fr is None:
                return
            yield fr
    finally:
        cap.release()


def read_video(path: str | os.PathLike, size: int, crop_first: bool = True) -> tuple[np.ndarray, dict]:
    """Every frame OpenCV can decode, as a centred ``size`` x ``size`` square (see :func:`_square`).

    Returns ``(frames[n, size, size, 3] uint8 RGB, info)``; ``info`` has the header and the
    decoded frame counts, fps and the original height and width (counts 0 when unreadable).
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
    for fr in decoded_frames(cap):
        if not frames:
            info["height"], info["width"] = int(fr.shape[0]), int(fr.shape[1])
        to_rgb = cv2.COLOR_GRAY2RGB if fr.ndim == 2 else cv2.COLOR_BGR2RGB
        frames.append(cv2.cvtColor(_square(fr, size, crop_first), to_rgb))
    info["decoded_frames"] = len(frames)
    arr = np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
    return arr, info


def _open_writer(path: pathlib.Path, size: tuple[int, int], codec: str, fps: float):
    import cv2

    apis = [getattr(cv2, "CAP_OPENCV_MJPEG", None), cv2.CAP_ANY] if codec == "MJPG" else [cv2.CAP_ANY]
    for api in apis:
        if api is None:
            continue
        w = cv2.VideoWriter(str(path), api, cv2.VideoWriter_fourcc(*codec), fps, size)
        if w.isOpened():
            if codec == "MJPG":
                try:
                    w.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
                except Exception:  # noqa: BLE001 - backend without a quality knob
                    pass
            return w
        w.release()
    return None


def write_clip(path: str | os.PathLike, frames: np.ndarray, codec: str, fps: float) -> bool:
    """Write ``frames[n, h, w, 3]`` (uint8 RGB) to ``path`` with the fourcc ``codec``; MJPG by
    OpenCV's own encoder at :data:`JPEG_QUALITY`, else by any backend. False when no writer opens."""
    import cv2

    path = pathlib.Path(path)
    w = _open_writer(path, (frames.shape[2], frames.shape[1]), codec, fps)
    if w is None:
        return False
    try:
        for fr in frames:
            w.write(cv2.cvtColor(np.ascontiguousarray(fr), cv2.COLOR_RGB2BGR))
    finally:
        w.release()
    return path.is_file() and path.stat().st_size > 0


def pick_codec(directory: pathlib.Path, size: int, frames: int, fps: float) -> tuple[str, str]:
    """``(codec, extension)``: MJPG in .avi (intra-only) when this OpenCV writes it readably
    (probed in ``directory``), else mp4v in .mp4."""
    probe = np.zeros((frames, size, size, 3), np.uint8)
    probe[:, : size // 2] = 200
    for codec, ext in (("MJPG", ".avi"), ("mp4v", ".mp4")):
        p = directory / f".codec-probe{ext}"
        try:
            if write_clip(p, probe, codec, fps) and count_frames(p)[0] == frames:
                if codec != "MJPG":
                    warnings.warn("video_io: OpenCV cannot write MJPG here; falling back to mp4v "
                                  "(inter-frame: compression may differ with playback direction)", stacklevel=3)
                return codec, ext
        finally:
            if p.exists():
                p.unlink()
    raise RuntimeError("video_io: OpenCV can write neither MJPG (.avi) nor mp4v (.mp4) video")


def count_frames(path: str | os.PathLike) -> tuple[int, tuple[int, int]]:
    """(frame count, (height, width)) as the reader used in training sees it: decord, else OpenCV."""
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
