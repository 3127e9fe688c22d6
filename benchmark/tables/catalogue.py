"""The model catalogue: every name a table, ``complexity`` or ``speed`` may use (a VidTr
configuration or a baseline), its family, its mmaction2 config, how to build it, and the view
it takes. The view (frames, frame interval, crop, layout, views per video) is read from the
config's test pipeline (``vidtr.view_of``), never from the name."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import REPO

VIDTR, BASELINE = "VidTr family", "baseline"


@dataclass(frozen=True)
class Model:
    name: str
    family: str  # VIDTR or BASELINE
    config: Path  # its mmaction2 config file
    frames: int  # frames one view feeds the model (SlowFast: the fast pathway's; TSM: its segments)
    frame_interval: int
    crop: int  # spatial size of the test views
    views: int  # temporal clips x crops of the test protocol
    input_format: str  # mmaction2's FormatShape: 'NCTHW' (clips) or 'NCHW' (frames, 2D models)
    clips: int = 1  # temporal clips of the test protocol (views = clips x crops for clip models)
    crops: int = 1  # spatial crops of the test protocol
    sampling: str = "SampleFrames"  # the test pipeline's sampler: 'SampleFrames' or 'UniformSample'

    @property
    def is_vidtr(self) -> bool:
        return self.family == VIDTR

    @property
    def config_rel(self) -> str:
        """The config path relative to the repository (what run specs store)."""
        return str(self.config.relative_to(REPO))

    def view(self, frames: int | None = None, res: int | None = None, batch: int = 1):
        """Random recognizer ``inputs`` of one view per clip: (B, 1, C, T, H, W), or
        (B, T, C, H, W) for 2D models that take frames."""
        import torch

        frames, res = frames or self.frames, res or self.crop
        if self.input_format == "NCHW":
            return torch.randn(batch, frames, 3, res, res)
        return torch.randn(batch, 1, 3, frames, res, res)

    def build(self, num_classes: int = 400):
        """The mmaction2 recognizer, randomly initialised (weights: ``load_from`` a local file)."""
        import baselines
        import vidtr

        if self.is_vidtr:
            return vidtr.build_recognizer(self.name, num_classes=num_classes)
        return baselines.build_baseline(self.name, num_classes=num_classes)


def names() -> list[str]:
    import baselines
    import vidtr

    return vidtr.list_models() + baselines.list_baselines()


@lru_cache(maxsize=None)
def get(name: str) -> Model:
    from mmengine.config import Config

    import baselines
    import vidtr

    if name in vidtr.list_models():
        family, path, frames = VIDTR, vidtr.config_path(name), None
    elif name in baselines.BASELINES:
        b = baselines.get_baseline(name)
        family, path, frames = BASELINE, b.config_path, b.clip_len
    else:
        raise KeyError(f"unknown model {name!r}; VidTr models: {', '.join(vidtr.list_models())}; "
                       f"baselines: {', '.join(baselines.list_baselines())}")
    view = vidtr.view_of(Config.fromfile(str(path)).test_dataloader.dataset.pipeline)
    clips = view["num_clips"]
    if view["input_format"] == "NCHW":  # TSN-style 2D models: one frame from each of num_clips segments is one view
        frames, views = frames or view["clip_len"] * clips, view["crops"]
    else:
        frames, views = frames or view["clip_len"], clips * view["crops"]
    return Model(name, family, Path(path), frames, view["frame_interval"], view["crop"], views, view["input_format"],
                 clips, view["crops"], view["sampler"])


def build(name: str, num_classes: int = 400):
    """An mmaction2 recognizer from a VidTr name or a baseline name."""
    return get(name).build(num_classes)
