"""The demo's clips: a virtual camera over real pixels (:mod:`.sources`), rendered
with sub-pixel accuracy (bilinear, 2x supersampled, then area-averaged to the clip size).

Seven classes in time-reversal pairs: still, pan left / right, pan up / down, zoom in / out.
Played backwards, a clip of one class is a clip of its partner (still is its own), and the
dataset holds every rendered clip *and* its exact reversal, so a model that cannot tell frame
order scores the two alike and is right on exactly one of them: 50% within each pair, by
construction. The view's centre and scale are drawn uniformly over the source, so no single
frame tells the class; every class has the same hand-held jitter (up to 0.3 pixel per frame).

``camera`` (mini Table 4b): the camera moves through the whole clip, 1.5-3 output pixels per
frame (pans) or 6-10% per frame (zooms); over a video shot the video plays meanwhile (one
source frame per clip frame).

``burst`` (mini Table 4d): the camera holds still (near-duplicate frames: jitter only, one source
frame) except for a quick move during 3 consecutive frames at a random time, 3-5 pixels or
12-20% per frame: the informative frames are a minority among redundant ones, the situation
std-topK pooling was designed for.
"""
from __future__ import annotations

import numpy as np

CAMERA_CLASSES = ("still", "pan left", "pan right", "pan up", "pan down", "zoom in", "zoom out")
CAMERA_REVERSE = (0, 2, 1, 4, 3, 6, 5)  # class of a clip played backwards
TASKS = {"camera": (CAMERA_CLASSES, CAMERA_REVERSE), "burst": (CAMERA_CLASSES, CAMERA_REVERSE)}

SUPERSAMPLE = 2
SCALE = (0.8, 1.5)  # source pixels per output pixel (middle of the move)
JITTER = 0.3  # output pixels, uniform, per frame and axis, every class
# (pan speed in output pixels per frame, zoom factor per frame) while the camera moves
MOTION = {"camera": ((1.5, 3.0), (1.06, 1.10)), "burst": ((3.0, 5.0), (1.12, 1.20))}
BURST_FRAMES = 3  # burst: frames during which the camera moves


def view(canvas: np.ndarray, cx: float, cy: float, scale: float, size: int) -> np.ndarray:
    """The ``size`` x ``size`` view of ``canvas`` (H, W, 3) centred at (cx, cy) (source pixels),
    ``scale`` source pixels per output pixel; bilinear at 2x, then area-averaged."""
    import cv2

    n, s = size * SUPERSAMPLE, scale / SUPERSAMPLE
    m = np.array([[s, 0.0, cx - (n - 1) / 2 * s], [0.0, s, cy - (n - 1) / 2 * s]])
    big = cv2.warpAffine(canvas, m, (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def camera_clip(frames: np.ndarray, cls: int, rng: np.random.Generator, length: int = 8, size: int = 32,
                task: str = "camera") -> tuple[np.ndarray, dict]:
    """One clip of class ``cls`` over ``frames`` (F, H, W, 3): an image (F = 1) or a video shot.
    ``camera``: the camera moves throughout (a video plays meanwhile); ``burst``: it moves during
    :data:`BURST_FRAMES` frames only, over one source frame. Returns the clip and its parameters."""
    n_src, h, w = frames.shape[:3]
    (speed_range, rate_range), name = MOTION[task], CAMERA_CLASSES[cls]
    if task == "camera":
        t, start = np.arange(length) - (length - 1) / 2, None
    else:  # steps taken by frame i: 0 before the burst, then 1, 2, .., BURST_FRAMES; centred
        start = int(rng.integers(1, length - BURST_FRAMES + 1))
        t = np.clip(np.arange(length) - start + 1, 0, BURST_FRAMES) - BURST_FRAMES / 2
    rate = float(rng.uniform(*rate_range)) if name.startswith("zoom") else 1.0
    scale = float(rng.uniform(*SCALE)) * rate ** (-t if name == "zoom in" else t)  # zoom in: the view shrinks
    speed = float(rng.uniform(*speed_range)) if name.startswith("pan") else 0.0
    direction = {"pan left": (-1, 0), "pan right": (1, 0), "pan up": (0, -1), "pan down": (0, 1)}.get(name, (0, 0))
    offset = np.outer(t, direction) * speed
    offset = (offset + rng.uniform(-JITTER, JITTER, (length, 2))) * scale[:, None]  # output -> source pixels
    half = size / 2 * scale.max() + 1
    lo = half - offset.min(axis=0)
    hi = np.array([w, h]) - half - offset.max(axis=0)
    centre = rng.uniform(lo, np.maximum(lo, hi))
    if task == "camera" and n_src > 1:
        first = int(rng.integers(0, n_src - length + 1))
        src = [first + i for i in range(length)]
    else:
        first = int(rng.integers(0, n_src))
        src = [first] * length
    clip = np.stack([view(frames[src[i]], *(centre + offset[i]), scale[i], size) for i in range(length)])
    return clip, dict(speed=round(speed, 3), zoom_rate=round(rate, 4), scale=round(float(scale.mean()), 3),
                      centre=[round(float(c), 1) for c in centre], first_frame=first, burst_start=start)
