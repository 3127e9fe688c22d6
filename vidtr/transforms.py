"""Data transforms of the authors' released VidTr code, registered in mmaction2's TRANSFORMS.

``SpreadSampleFrames`` is the released code's Kinetics *training* sampler. The released test
loader samples with an exact stride, which is mmaction2's ``SampleFrames`` in test mode, so the
configs keep that one for val/test on Kinetics.
"""
from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class SpreadSampleFrames(BaseTransform):
    """``clip_len`` frames spread evenly, both ends included, over a window of
    ``clip_len x frame_interval`` frames: ``floor(linspace(s, s + window - 1, clip_len))``.

    For 8x8 the window is 64 frames and the offsets from its start ``s`` are
    0, 9, 18, 27, 36, 45, 54, 63 (mmaction2's ``SampleFrames`` gives 0, 8, ..., 56); for 16x4
    the gaps mix 4 and 5 (0, 4, 8, 12, 16, 21, ..., 58, 63).

    Window start: in training, uniform at random over ``0 .. total_frames - window``
    (``num_clips`` starts, sorted); in test mode, ``num_clips`` windows placed as
    ``SampleFrames`` places them (one: centred; several: evenly spaced from the first frame
    to the last possible start).

    A video shorter than the window (``total_frames < window``, e.g. HMDB-51 at 32x4 needs
    128 frames) is never wrapped around: the window shrinks to the whole video, so the clip is
    ``floor(linspace(0, total_frames - 1, clip_len))``: temporal order kept, the first and the
    last frame included; with fewer frames than ``clip_len``, frames repeat evenly.

    Required keys: ``total_frames``, ``start_index``. Added keys, as ``SampleFrames``:
    ``frame_inds`` (int32, ``num_clips * clip_len``), ``clip_len``, ``frame_interval``,
    ``num_clips``.
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1, test_mode: bool = False):
        if clip_len < 1 or frame_interval < 1 or num_clips < 1:
            raise ValueError(f"SpreadSampleFrames: clip_len, frame_interval and num_clips must be >= 1, got "
                             f"{clip_len}, {frame_interval}, {num_clips}")
        self.clip_len, self.frame_interval = clip_len, frame_interval
        self.num_clips, self.test_mode = num_clips, test_mode

    @property
    def window(self) -> int:
        return self.clip_len * self.frame_interval

    def offsets(self, length: int) -> np.ndarray:
        """Frame offsets from a window's start for a window of ``length`` frames."""
        return np.floor(np.linspace(0, length - 1, self.clip_len) + 1e-6).astype(np.int64)

    def starts(self, total_frames: int) -> np.ndarray:
        max_start = total_frames - self.window
        if max_start <= 0:  # short video: one window, the whole video
            return np.zeros(self.num_clips, dtype=np.int64)
        if not self.test_mode:
            return np.sort(np.random.randint(max_start + 1, size=self.num_clips))
        if self.num_clips == 1:
            return np.array([max_start // 2])
        return np.round(np.arange(self.num_clips) * (max_start / (self.num_clips - 1))).astype(np.int64)

    def transform(self, results: dict) -> dict:
        total = max(int(results["total_frames"]), 1)
        offsets = self.offsets(min(self.window, total))
        inds = (self.starts(total)[:, None] + offsets[None, :]).reshape(-1)
        results["frame_inds"] = (inds + results["start_index"]).astype(np.int32)
        results["clip_len"] = self.clip_len
        results["frame_interval"] = self.frame_interval
        results["num_clips"] = self.num_clips
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(clip_len={self.clip_len}, frame_interval={self.frame_interval}, "
                f"num_clips={self.num_clips}, test_mode={self.test_mode})")
