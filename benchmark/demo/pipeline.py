"""The demo's decoding step: every frame of a demo clip (:mod:`.data`), decoded by
path with decord once per process and kept in memory, so that epochs and the runs that share a
process (the demo runs its runs in-process) do not decode the same few thousand tiny MJPG files
again. Outputs what mmaction2's DecordInit + SampleFrames(all frames, in order) + DecordDecode give
(``imgs``, ``num_clips``, ``clip_len``, ``frame_inds``, shapes); no randomness, so a cached clip
is what decoding it again would give."""
from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

_CACHE: dict[str, np.ndarray] = {}


@TRANSFORMS.register_module()
class DemoClipDecode(BaseTransform):
    """All ``clip_len`` frames of a clip, in order (a clip of another length is an error)."""

    def __init__(self, clip_len: int = 8):
        self.clip_len = clip_len

    def transform(self, results: dict) -> dict:
        path = results["filename"]
        frames = _CACHE.get(path)
        if frames is None:
            from .data import read_clip

            frames = read_clip(path)
            if len(frames) != self.clip_len:
                raise ValueError(f"{path}: {len(frames)} frames, the demo's clips have {self.clip_len}")
            _CACHE[path] = frames
        results.update(imgs=frames.copy(), num_clips=1, clip_len=self.clip_len, total_frames=len(frames),
                       frame_inds=np.arange(len(frames)), frame_interval=1,
                       original_shape=frames.shape[1:3], img_shape=frames.shape[1:3])
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(clip_len={self.clip_len})"
