"""Video decoding backends for the training and test pipelines, behind decord's reader interface
(``len``, ``get_avg_fps``, ``get_batch(indices).asnumpy()``) so that mmaction2's ``DecordDecode``
and everything after it run unchanged:

* ``decord``: mmaction2's default (DecordInit / DecordDecode), by path (:class:`DecordInitByPath`);
* ``pyav``: :class:`PyAVReader`, the fast path. It returns decord's frames bit for bit (tested on
  long and short GOPs and short videos) while decoding less: it demuxes the file once, decodes in
  decode order from the keyframe before each needed frame, jumps to a later keyframe when the
  next needed frame lies beyond it, tells FFmpeg's decoder to skip the non-reference frames that
  no clip frame needs (nothing refers to them, so no other frame changes), and converts only the
  needed frames to RGB. decord decodes every frame from the keyframe and converts each;
* ``torchcodec`` (PyTorch's decoder; needs FFmpeg's shared libraries, e.g. Debian's ``ffmpeg``):
  ``VideoDecoder.get_frames_at``, used only where it imports;
* ``torchcodec-cuda``: the same on the GPU (NVDEC), chosen only where CUDA exists and only when
  asked for: its colour conversion is not bit-exact with the CPU's, and worker processes would each
  hold a CUDA context. Unmeasured until a GPU is lent.

Every backend decodes with one thread: a data loader runs one decoding process per core.
:func:`resolve_backend` picks one (``$VIDTR_DECODER``, default ``auto``: PyAV where it imports, else
decord); :func:`with_decoder` swaps it into a pipeline at dataset build time, so a run's config (and
its id) does not change with the decoder."""
from __future__ import annotations

import bisect
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
from mmaction.datasets.transforms import DecordInit
from mmaction.registry import TRANSFORMS
from mmengine.logging import print_log

from .containers import shortfall

BACKENDS = ("decord", "pyav", "torchcodec", "torchcodec-cuda")
DECODER_ENV = "VIDTR_DECODER"
# the fastest backend that returns decord's frames bit for bit (measured: docs/data-loading.md)
FAST = "pyav"


class BadVideo(RuntimeError):
    """A video file found damaged before decoding (its message is the reason)."""


@TRANSFORMS.register_module()
class DecordInitByPath(DecordInit):
    """mmaction2's DecordInit (same outputs: ``video_reader``, ``total_frames``, ``avg_fps``),
    but decord opens the file by its path: opened from an in-memory buffer, as DecordInit does,
    decord crashes the process (SIGSEGV) on a truncated AVI; by path it raises. A file shorter
    than its container declares is refused (BadVideo) rather than decoded in part."""

    def _get_video_reader(self, filename: str) -> object:
        import decord

        if os.path.splitext(filename)[0] == filename:
            filename = filename + ".mp4"  # as DecordInit
        short = shortfall(filename)
        if short:
            raise BadVideo(f"truncated: {short}")
        return decord.VideoReader(filename, num_threads=self.num_threads)


def _by_path(t):
    """A pipeline step with DecordInit (on local files) swapped for DecordInitByPath."""
    if isinstance(t, dict) and t.get("type") in ("DecordInit", "mmaction.DecordInit", DecordInit) \
            and t.get("io_backend", "disk") == "disk":
        return {**t, "type": DecordInitByPath}
    return t


class DecodeError(RuntimeError):
    """A backend could not return the frames asked for (its message names the file and frames)."""


class NotExact(DecodeError):
    """A stream the fast path does not promise decord's frames for: decord reads it."""


# Codecs whose decoding the standard specifies bit for bit, in the pixel format whose RGB conversion
# was checked equal to decord's: H.264 4:2:0 (Kinetics' codec; what prepare-videos writes). MPEG-4
# part 2 (opencv-doc's vtest.avi) differs from decord by up to 2 levels: its IDCT is left to the
# decoder, and decord bundles an older FFmpeg.
EXACT_CODECS = {"h264": ("yuv420p",)}


# --- choosing a backend ----------------------------------------------------------------------

def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@lru_cache(maxsize=None)
def _import_error(module: str) -> Optional[str]:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as e:
        return f"{module} does not import ({e})"
    except (OSError, RuntimeError) as e:  # torchcodec without FFmpeg's shared libraries raises these
        return f"{module} does not load ({str(e).splitlines()[0][:160]})"
    return None


def unavailable(backend: str, cuda: Optional[bool] = None) -> Optional[str]:
    """Why ``backend`` cannot run here, None where it can (``cuda``: whether a CUDA device is
    present, asked of torch when None)."""
    if backend not in BACKENDS:
        raise KeyError(f"unknown decoder {backend!r}; valid: auto, {', '.join(BACKENDS)}")
    module = {"decord": "decord", "pyav": "av"}.get(backend, "torchcodec.decoders")
    why = _import_error(module)
    if why is None and backend == "torchcodec-cuda" and not (_cuda_available() if cuda is None else cuda):
        why = "no CUDA device (torch sees none)"
    return why


def resolve_backend(name: Optional[str] = None, cuda: Optional[bool] = None) -> str:
    """``name`` (else ``$VIDTR_DECODER``, else ``auto``) as a backend that runs here. ``auto``:
    :data:`FAST` where it imports, else decord; never the GPU, whose frames differ. A backend asked
    for by name that cannot run is an error naming why."""
    name = name or os.environ.get(DECODER_ENV) or "auto"
    if name == "auto":
        return FAST if unavailable(FAST, cuda) is None else "decord"
    why = unavailable(name, cuda)
    if why:
        raise ValueError(f"decoder {name!r} cannot run here: {why}")
    return name


# --- the index of a file's frames ------------------------------------------------------------

class Batch:
    """Frames as decord's ``get_batch`` returns them: ``asnumpy()`` -> (n, H, W, 3) uint8 RGB."""

    def __init__(self, frames: np.ndarray):
        self._frames = frames

    def asnumpy(self) -> np.ndarray:
        return self._frames


@dataclass
class FrameIndex:
    """Where a video's frames are: frames numbered in presentation order (as decord numbers them:
    by timestamp), each frame's packet in decode order, and the keyframes' packets."""
    packet_of: np.ndarray  # display index -> packet position (decode order)
    index_of: np.ndarray  # packet position -> display index
    keyframes: list  # packet positions of keyframes, ascending
    pts: list  # packet position -> timestamp

    def start_of(self, frame: int) -> int:
        """The packet to start decoding from to get ``frame``: the last keyframe before its packet;
        the one before that when ``frame`` shows before that keyframe (a leading picture of an
        open GOP, which refers to the GOP before)."""
        p = int(self.packet_of[frame])
        k = bisect.bisect_right(self.keyframes, p) - 1
        if k < 0:
            raise DecodeError(f"frame {frame} has no keyframe before it")
        if k > 0 and self.pts[p] < self.pts[self.keyframes[k]]:
            k -= 1
        return self.keyframes[k]

    def seek_decoded(self, indices) -> int:
        """Frames a keyframe-seeking reader (decord, torchcodec) decodes for ``indices``: from
        the keyframe before each needed frame, or on from where it is when no keyframe lies in
        between; every frame on the way, to the last needed packet."""
        decoded, pos = 0, None  # pos: the packet position decoded last
        for t in sorted(set(int(i) for i in indices)):
            p = int(self.packet_of[t])
            start = self.start_of(t)
            if pos is None or start > pos or p < start:
                pos = start - 1
            if p > pos:
                decoded += p - pos
                pos = p
        return decoded


# --- readers ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def reformatter():
    """One PyAV reformatter per process: ``frame.to_ndarray(format=...)`` builds a new swscale
    context for every frame (~0.3 ms at 340x256, more than decoding a frame); a shared one keeps
    it. The same conversion, so the same pixels."""
    from av.video.reformatter import VideoReformatter

    return VideoReformatter()


def to_rgb(frame) -> np.ndarray:
    return reformatter().reformat(frame, format="rgb24").to_ndarray()


class PyAVReader:
    """decord's reader interface over PyAV, one thread, decoding only what the frames asked for
    need (see the module's docstring). ``frames_decoded``: frames the decoder returned so far."""

    def __init__(self, path: str, skip_unneeded: bool = True):
        import av

        self.path, self.skip_unneeded, self.frames_decoded = str(path), skip_unneeded, 0
        try:
            self._container = av.open(self.path)
        except av.FFmpegError as e:
            raise DecodeError(f"{path}: PyAV cannot open it ({e})") from None
        if not self._container.streams.video:
            raise DecodeError(f"{path}: no video stream")
        stream = self._container.streams.video[0]
        self._codec = stream.codec_context
        if self._codec.pix_fmt not in EXACT_CODECS.get(self._codec.name, ()):
            raise NotExact(f"{path}: {self._codec.name} {self._codec.pix_fmt} is read by decord")
        self._codec.thread_count = 1
        # a damaged stream raises instead of being concealed: decoders of other FFmpeg versions
        # conceal differently (opencv-doc's box.mp4), so such a file goes to decord (see _WithFallback)
        self._codec.options = {"err_detect": "explode"}
        try:
            # the demuxer's final packet (size 0) is its flush signal, not a frame
            self._packets = [p for p in self._container.demux(stream) if p.size]
        except av.FFmpegError as e:
            raise DecodeError(f"{path}: cannot be demuxed ({e})") from None
        pts = [p.pts if p.pts is not None else p.dts for p in self._packets]
        if any(t is None for t in pts) or len(set(pts)) != len(pts):
            raise DecodeError(f"{path}: packets without distinct timestamps")
        order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
        index_of = np.empty(len(order), dtype=np.int64)
        index_of[order] = np.arange(len(order))
        self.index = FrameIndex(order, index_of, [i for i, p in enumerate(self._packets) if p.is_keyframe], pts)
        self._index_of_pts = {t: int(index_of[i]) for i, t in enumerate(pts)}
        if len(self._packets) and (not self.index.keyframes or self.index.keyframes[0] != 0):
            raise DecodeError(f"{path}: the first packet is not a keyframe")
        self._fps = float(stream.average_rate or stream.guessed_rate or 0.0)

    def __len__(self) -> int:
        return len(self._packets)

    def get_avg_fps(self) -> float:
        return self._fps

    def get_batch(self, indices) -> Batch:
        indices = [int(i) for i in np.asarray(indices).reshape(-1)]
        bad = [i for i in indices if not 0 <= i < len(self)]
        if bad:
            raise IndexError(f"{self.path}: frame {bad[0]} is out of range (the video has {len(self)} frames)")
        want = sorted(set(indices))
        got = self._decode(want)
        return Batch(np.stack([got[i] for i in indices]))

    def _decode(self, want: list) -> dict:
        import av

        wanted, got, pending = set(want), {}, set()
        pos, drained, n = None, False, len(self._packets)
        last = [None]  # the timestamp of the frame decoded last since the decoder (re)started

        def take(frames):
            for fr in frames:
                self.frames_decoded += 1
                if last[0] is not None and fr.pts <= last[0]:
                    # frames leave the decoder in display order: timestamps that do not follow it
                    # (opencv-doc's box.mp4 has B-frames with pts = dts) number frames differently
                    raise NotExact(f"{self.path}: frame timestamps are not in display order")
                last[0] = fr.pts
                i = self._index_of_pts.get(fr.pts)
                if i in wanted and i not in got:
                    got[i] = to_rgb(fr)
                    pending.discard(i)

        try:
            for t in want:
                start = self.index.start_of(t)
                # jump to a later keyframe (or start) when nothing needed is still inside the decoder
                if pos is None or (start > pos and not pending):
                    if pos is not None:
                        self._codec.flush_buffers()
                    pos, drained, last[0] = start, False, None
                while t not in got:
                    if pos >= n:
                        if drained:
                            raise DecodeError(f"{self.path}: the decoder returned no frame {t}")
                        take(self._codec.decode(None))  # the frames still held for reordering
                        drained = True
                        continue
                    i = int(self.index.index_of[pos])
                    needed = i in wanted and i not in got
                    if self.skip_unneeded:  # non-reference frames nobody asked for are not decoded
                        self._codec.skip_frame = "DEFAULT" if needed else "NONREF"
                    if needed:
                        pending.add(i)
                    take(self._codec.decode(self._packets[pos]))
                    pos += 1
        except av.FFmpegError as e:
            raise DecodeError(f"{self.path}: decoding failed ({e})") from None
        return got

    def close(self):
        self._container.close()


class TorchCodecReader:
    """decord's reader interface over torchcodec's ``VideoDecoder`` (exact seeking, one FFmpeg
    thread; ``device='cuda'`` decodes on the GPU)."""

    frames_decoded = None  # torchcodec does not say

    def __init__(self, path: str, device: str = "cpu"):
        from torchcodec.decoders import VideoDecoder

        self.path = str(path)
        try:
            self._decoder = VideoDecoder(self.path, num_ffmpeg_threads=1, seek_mode="exact", dimension_order="NHWC",
                                         device=device)
        except (RuntimeError, ValueError) as e:
            raise DecodeError(f"{path}: torchcodec cannot open it ({str(e).splitlines()[0]})") from None
        meta = self._decoder.metadata
        self._len, self._fps = int(meta.num_frames or 0), float(meta.average_fps or 0.0)

    def __len__(self) -> int:
        return self._len

    def get_avg_fps(self) -> float:
        return self._fps

    def get_batch(self, indices) -> Batch:
        indices = [int(i) for i in np.asarray(indices).reshape(-1)]
        try:
            frames = self._decoder.get_frames_at(indices).data
        except (RuntimeError, IndexError) as e:
            raise DecodeError(f"{self.path}: torchcodec failed ({str(e).splitlines()[0]})") from None
        return Batch(frames.cpu().numpy())


def open_reader(path: str, backend: str):
    """A reader of ``path`` with decord's interface, by ``backend`` (a name in :data:`BACKENDS`)."""
    if backend == "decord":
        import decord

        return decord.VideoReader(str(path), num_threads=1)
    if backend == "pyav":
        return PyAVReader(path)
    if backend in ("torchcodec", "torchcodec-cuda"):
        return TorchCodecReader(path, device="cuda" if backend == "torchcodec-cuda" else "cpu")
    raise KeyError(f"unknown decoder {backend!r}; valid: {', '.join(BACKENDS)}")


class _WithFallback:
    """A fast reader that hands a clip to decord when it cannot return it (a stream it does not
    index, a frame its decoder drops), so a video decord reads never becomes a bad video; the
    first such file is logged."""

    warned = False

    def __init__(self, reader):
        self._reader = reader
        self.path = reader.path
        self.fallbacks = 0  # clips handed to decord

    def __len__(self):
        return len(self._reader)

    def get_avg_fps(self):
        return self._reader.get_avg_fps()

    def get_batch(self, indices):
        try:
            return self._reader.get_batch(indices)
        except DecodeError as e:
            _warn_fallback(str(e))
            self.fallbacks += 1
            return open_reader(self.path, "decord").get_batch(indices)


def _warn_fallback(why: str) -> None:
    if not _WithFallback.warned:
        _WithFallback.warned = True
        print_log(f"decoder fallback to decord: {why} (further fallbacks are not logged)", logger="current",
                  level=logging.WARNING)


# --- the pipeline step -----------------------------------------------------------------------

@TRANSFORMS.register_module()
class VideoInit(DecordInitByPath):
    """DecordInit's outputs (``video_reader``, ``total_frames``, ``avg_fps``) from the decoding
    ``backend`` (see :func:`resolve_backend`); a truncated file is refused as DecordInitByPath
    refuses it; a file the fast backend cannot index goes to decord."""

    def __init__(self, backend: str = "auto", **kwargs):
        super().__init__(**kwargs)
        self.backend = backend

    def _get_video_reader(self, filename: str) -> object:
        backend = resolve_backend(self.backend)
        if backend == "decord":
            return super()._get_video_reader(filename)
        if os.path.splitext(filename)[0] == filename:
            filename = filename + ".mp4"  # as DecordInit
        short = shortfall(filename)
        if short:
            raise BadVideo(f"truncated: {short}")
        try:
            reader = open_reader(filename, backend)
        except DecodeError as e:
            if not isinstance(e, NotExact):
                _warn_fallback(str(e))
            return super()._get_video_reader(filename)
        return _WithFallback(reader)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(backend={self.backend})"


def step_name(t: dict) -> str:
    """A pipeline step's type as a bare name (``'mmaction.DecordInit'``, the class -> ``'DecordInit'``)."""
    kind = t.get("type")
    return getattr(kind, "__name__", str(kind)).split(".")[-1]


def with_decoder(pipeline: list, backend: Optional[str] = None) -> list:
    """``pipeline`` with its decord steps (DecordInit or DecordInitByPath on local files, followed
    by DecordDecode in its default 'accurate' mode) reading through ``backend`` (resolved by
    :func:`resolve_backend`); unchanged for decord. The frames are the same, so this is applied
    when a dataset is built, never written into a config (a run's id follows its config)."""
    backend = resolve_backend(backend)
    decode_modes = [t.get("mode", "accurate") for t in pipeline if isinstance(t, dict)
                    and step_name(t) == "DecordDecode"]
    if backend == "decord" or decode_modes != ["accurate"]:
        return list(pipeline)
    out = []
    for t in pipeline:
        if isinstance(t, dict) and step_name(t) in ("DecordInit", "DecordInitByPath") \
                and t.get("io_backend", "disk") == "disk":
            t = {**{k: v for k, v in t.items() if k != "type"}, "type": VideoInit, "backend": backend}
        out.append(t)
    return out
