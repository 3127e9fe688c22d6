"""Builders: named VidTr models through mmaction2's registry and their config files
(``vidtr/configs/<name>.py``), and the authors' released checkpoints loaded into them.

A name selects a partial spec in :attr:`VidTr.arch_zoo <vidtr.vidtr.VidTr.arch_zoo>`;
``build_backbone(name, **overrides)`` fills in the rest. A name's config file holds the
recognizer (VidTr + head + data preprocessor) and the data pipeline of its clip.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from .vidtr import get_arch, resolve_spec
from .weights import CheckpointError, load_strict, read_checkpoint, released_to_vidtr

CONFIG_DIR = Path(__file__).parent / "configs"


def config_path(name: str) -> Path:
    """The mmaction2 config file of a named model (``vidtr/configs/<name>.py``)."""
    get_arch(name)
    return CONFIG_DIR / f"{name}.py"


# the samplers an mmaction2 pipeline may start with: dense windows (mmaction2's, the released
# code's) and TSN-style segments; and the spatial crops of a test pipeline, with their views
SAMPLERS = ("SampleFrames", "SpreadSampleFrames", "UniformSample")
CROPS = {"ThreeCrop": 3, "TenCrop": 10, "CenterCrop": 1}


def view_of(pipeline) -> dict:
    """What one view of an mmaction2 data pipeline is, read from its steps (the one reader of
    pipelines): ``sampler`` and its ``clip_len``, ``frame_interval`` (1 for TSN-style sampling) and
    ``num_clips``; ``window``, the frames one clip spans (clip_len x frame_interval for a dense
    sampler, clip_len for TSN-style segments); the test ``crop`` size and ``crops`` per clip; and
    the ``input_format`` of its FormatShape ('NCTHW' clips, 'NCHW' frames of 2D models)."""
    def kind(t):
        return getattr(t["type"], "__name__", str(t["type"])).split(".")[-1]

    sample = next((t for t in pipeline if kind(t) in SAMPLERS), None)
    if sample is None:
        raise ValueError(f"no sampler ({', '.join(SAMPLERS)}) in the pipeline {[kind(t) for t in pipeline]}")
    crop = next((t for t in pipeline if kind(t) in CROPS), {})
    fmt = next((t.get("input_format") for t in pipeline if kind(t) == "FormatShape"), "NCTHW")
    clip_len, interval = int(sample.get("clip_len", 1)), int(sample.get("frame_interval", 1) or 1)
    return dict(sampler=kind(sample), clip_len=clip_len, frame_interval=interval,
                num_clips=int(sample.get("num_clips", 1)),
                window=clip_len if kind(sample) == "UniformSample" else clip_len * interval,
                crop=int(crop.get("crop_size", 224)), crops=CROPS.get(kind(crop) if crop else "", 1),
                input_format=fmt)


def clip_of(name: str) -> tuple[int, int]:
    """(clip_len, frame_interval) of a named model's test pipeline, read from its config file."""
    view = view_of(Config.fromfile(str(config_path(name))).test_dataloader.dataset.pipeline)
    return view["clip_len"], view["frame_interval"]


def build(cfg: dict):
    """Any mmaction2 model config (a dict with ``type``), built in mmaction2's scope."""
    with DefaultScope.overwrite_default_scope("mmaction"):
        return MODELS.build(cfg)


def build_backbone(name: str, **overrides):
    """The VidTr backbone of a named configuration, built through mmaction2's registry."""
    get_arch(name)
    return build(dict(type="VidTr", arch=name, **overrides))


def recognizer_cfg(name: str, num_classes: int = 400, **overrides) -> dict:
    """The ``model`` of the named config file (Recognizer3D + VidTr + head + data
    preprocessor), with backbone overrides applied and the head sized to match."""
    # validate the spec overrides before anything is built; pretrained/init_cfg go to the backbone
    spec = resolve_spec(name, {k: v for k, v in overrides.items() if k not in ("pretrained", "init_cfg")})
    model = Config.fromfile(str(config_path(name))).model.to_dict()
    model["backbone"].update(overrides)
    model["cls_head"].update(num_classes=num_classes, in_channels=spec.embed_dims)
    return model


def build_recognizer(name: str, num_classes: int = 400, **overrides):
    """An mmaction2 ``Recognizer3D`` holding the named VidTr, built through the registry."""
    model = build(recognizer_cfg(name, num_classes, **overrides))
    init_weights_quietly(model)
    return model


def init_weights_quietly(model) -> None:
    """mmengine's ``init_weights`` logs one INFO line per parameter; keep warnings only."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


class VidTrClassifier(nn.Module):
    """Backbone + classification head: (B, 3, T, H, W) normalised clips -> (B, classes) logits."""

    def __init__(self, backbone: nn.Module, cls_head: nn.Module):
        super().__init__()
        self.backbone, self.cls_head = backbone, cls_head

    def forward(self, x: Tensor) -> Tensor:
        return self.cls_head(self.backbone(x))


def load_released(name: str, path, num_classes: Optional[int] = None, trust: bool = False,
                  **overrides) -> VidTrClassifier:
    """A named VidTr (fidelity 'released') holding the authors' released checkpoint at
    ``path``, in eval mode. ``num_classes`` defaults to what the checkpoint's ``fc`` holds."""
    source = str(path)
    backbone_sd, head_sd = released_to_vidtr(read_checkpoint(path, trust), source)
    if "fc_cls.weight" not in head_sd:
        raise CheckpointError(f"{source}: no classifier key 'fc.weight'")
    found = head_sd["fc_cls.weight"].shape[0]
    if num_classes is not None and num_classes != found:
        raise CheckpointError(f"{source}: 'fc.weight' has {found} classes, but num_classes={num_classes} was asked for")
    overrides.setdefault("fidelity", "released")
    recognizer = build_recognizer(name, num_classes=found, **overrides)
    load_strict(recognizer.backbone, backbone_sd, source, f"the {name} backbone")
    load_strict(recognizer.cls_head, head_sd, source, "the classifier", {"fc_cls.weight": "fc.weight"})
    return VidTrClassifier(recognizer.backbone, recognizer.cls_head).eval()
