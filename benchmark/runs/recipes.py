"""Recipes: how a model config is run on a dataset. A dataset's recipe (``DatasetInfo``: its
sampler, flip, fine-tuning schedule, short videos) becomes mmengine overrides of a Kinetics
config's pipelines and schedule; the backbone's fidelity chooses the training sampler; the user's
``--cfg-options`` join every selected run's definition."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from vidtr.configs.data import ann_file, video_dir

from ..data.datasets import get_dataset
from .config import check_override_keys, load_config
from .spec import CHECKPOINT_OF, DATA_ROOT, RunSpec

# mmaction2's dense sampler and the released code's (vidtr.transforms.SpreadSampleFrames): both
# take clip_len x frame_interval windows; the released one is the VidTr configs' training sampler
DENSE_SAMPLERS = ("SampleFrames", "SpreadSampleFrames")
# UCF-101 / HMDB-51 fine-tuning (DatasetInfo.finetune_epochs): the paper gives only "6 epochs"
# (Sec. 4.3); the Kinetics schedule's steps (x0.1 at 25 and 40 of 50, Sec. 3.3) scaled to 6
# epochs fall at 3 and 5; validation every epoch
FINETUNE_MILESTONES = (0.5, 0.8)


def dataset_overrides(dataset: str, protocol: str = "30view", frames: Optional[int] = None,
                      test_pipeline: Optional[list] = None, load_from: Optional[str] = None, *,
                      train_pipeline: Optional[list] = None, val_pipeline: Optional[list] = None) -> dict:
    """mmengine overrides pointing a Kinetics config at ``dataset`` under the data root, with the
    dataset's recipe (``DatasetInfo``) applied to the config's pipelines, where given:

    - ``sampler='tsn'`` (SSv2, Table 6) and ``protocol='single_pass'`` (Fast VidTr, Appendix B):
      train, val and test all sample TSN-style, ``frames`` segments, one frame from each
      (UniformSample: random in training, the segment centres in testing), one centre crop;
    - ``flip=False`` (SSv2: left/right classes): no Flip in training;
    - ``short_videos`` (UCF-101, HMDB-51): no sampler wraps around a video shorter than its
      window: a run trained with the released sampler (SpreadSampleFrames) is validated and
      tested with it too (spread over the whole video), mmaction2's SampleFrames repeats the
      last frame (``out_of_bound_opt='repeat_last'``);
    - ``finetune_epochs`` (UCF-101, HMDB-51: 6, Sec. 4.3): the schedule of that many epochs.

    A pipeline override is set only where the recipe changes the config's pipeline."""
    info = get_dataset(dataset)
    o: dict = {"model.cls_head.num_classes": info.num_classes}
    for split in ("train", "val", "test"):  # the one layout (vidtr/configs/data.py), as the plain configs read it
        o[f"{split}_dataloader.dataset.type"] = "CheckedVideoDataset"
        o[f"{split}_dataloader.dataset.ann_file"] = ann_file(DATA_ROOT, dataset, split)
        o[f"{split}_dataloader.dataset.data_prefix"] = {"video": video_dir(DATA_ROOT, dataset, split)}
        if info.multi_class:
            o[f"{split}_dataloader.dataset.multi_class"] = True
            o[f"{split}_dataloader.dataset.num_classes"] = info.num_classes
    if info.multi_class:  # Charades: multi-label, sigmoid + BCE, mAP
        o["model.cls_head.multi_class"] = True
        o["model.cls_head.loss_cls"] = {"type": "BCELossWithLogits"}
        o["model.cls_head.average_clips"] = "score"
        o["val_evaluator"] = {"type": "AccMetric", "metric_list": ("mean_average_precision",)}
        o["test_evaluator"] = {"type": "AccMetric", "metric_list": ("mean_average_precision",)}
    if load_from:
        o["load_from"] = load_from
    if info.finetune_epochs:
        n = info.finetune_epochs
        o["train_cfg.max_epochs"] = n
        o["train_cfg.val_interval"] = 1
        o["param_scheduler"] = [dict(type="MultiStepLR", begin=0, end=n, by_epoch=True, gamma=0.1,
                                     milestones=[round(f * n) for f in FINETUNE_MILESTONES])]
    given = {"train": train_pipeline, "val": val_pipeline, "test": test_pipeline}
    pipes = {k: [dict(t) for t in v] for k, v in given.items() if v}
    if protocol == "single_pass" or info.sampler == "tsn":
        # Appendix B / SSv2: one frame from each of N uniform segments, one centre crop
        pipes = {k: _uniform_pipeline(frames, v, train=k == "train") for k, v in pipes.items()}
    if not info.flip and "train" in pipes:
        pipes["train"] = [t for t in pipes["train"] if t["type"] != "Flip"]
    if info.short_videos:
        pipes = _short_video_safe(pipes)
    for split, pipeline in pipes.items():
        if pipeline != [dict(t) for t in given[split]]:
            o[f"{split}_dataloader.dataset.pipeline"] = pipeline
    return o


def _uniform_pipeline(frames: int, pipeline: list, train: bool) -> list:
    """TSN-style sampling (mmaction2's UniformSample: ``frames`` segments of the whole video,
    one frame each, random in training, each segment's centre in testing) in place of the dense
    sampler; in testing, one centre crop in place of ThreeCrop."""
    out = []
    for t in pipeline:
        if t["type"] in DENSE_SAMPLERS:
            t = dict(type="UniformSample", clip_len=frames, num_clips=1) if train else \
                dict(type="UniformSample", clip_len=frames, num_clips=1, test_mode=True)
        elif t["type"] == "ThreeCrop" and not train:
            t = dict(type="CenterCrop", crop_size=t["crop_size"])
        out.append(t)
    return out


def _as_sampler(t: dict, kind: str, short_videos: bool) -> dict:
    """A dense sampler step as ``kind`` (SampleFrames or SpreadSampleFrames), same clip, clips
    and mode; SampleFrames on ``short_videos`` repeats the last frame instead of wrapping."""
    if kind == "SpreadSampleFrames":
        return dict(type=kind, **{k: t[k] for k in ("clip_len", "frame_interval", "num_clips", "test_mode") if k in t})
    out = dict(t) if t["type"] == "SampleFrames" else dict(t, type="SampleFrames")
    if short_videos:
        out["out_of_bound_opt"] = "repeat_last"
    return out


def _train_sampler(pipes: dict) -> Optional[str]:
    return next((t["type"] for t in pipes.get("train") or [] if t["type"] in DENSE_SAMPLERS), None)


def _short_video_safe(pipes: dict) -> dict:
    """Pipelines that never wrap around a video shorter than their window: with the released
    training sampler every split samples with it (val/test in test mode), so a short video is
    spread over its whole length in training and testing alike; otherwise (baselines, the
    paper fidelity) mmaction2's SampleFrames repeats the last frame."""
    kind = "SpreadSampleFrames" if _train_sampler(pipes) == "SpreadSampleFrames" else "SampleFrames"
    return {k: [_as_sampler(t, kind, True) if t["type"] in DENSE_SAMPLERS else t for t in v]
            for k, v in pipes.items()}


def fidelity_samplers(config: str, dataset: str, overrides: dict) -> dict:
    """``overrides`` with the training sampler that goes with the backbone's fidelity: a run
    whose overrides set ``model.backbone.fidelity='paper'`` trains with mmaction2's
    SampleFrames (the paper's text: a fixed stride), ``'released'`` with SpreadSampleFrames (the
    released code). Every VidTr config is of the released fidelity (none sets ``fidelity``), so
    only such overrides (``--cfg-options model.backbone.fidelity=paper``) change anything;
    TSN-style pipelines (SSv2, Fast VidTr) and baselines are left as they are."""
    fidelity = overrides.get("model.backbone.fidelity")
    if fidelity is None or not config:
        return overrides
    cfg = load_config(config)
    if cfg.model.get("backbone", {}).get("type") != "VidTr" or not cfg.get("train_dataloader"):
        return overrides
    pipes = {split: [dict(t) for t in overrides.get(f"{split}_dataloader.dataset.pipeline",
                                                     cfg[f"{split}_dataloader"].dataset.pipeline)]
             for split in ("train", "val", "test") if cfg.get(f"{split}_dataloader")}
    kind = "SampleFrames" if fidelity == "paper" else "SpreadSampleFrames"
    short = get_dataset(dataset).short_videos
    pipes["train"] = [_as_sampler(t, kind, short) if t["type"] in DENSE_SAMPLERS else t for t in pipes["train"]]
    if short:  # val/test follow the training sampler (see _short_video_safe)
        pipes = _short_video_safe({k: [_as_sampler(t, "SampleFrames", False) if t["type"] in DENSE_SAMPLERS
                                       and t.get("test_mode") else t for t in v] for k, v in pipes.items()})
    out = dict(overrides)
    for split, pipeline in pipes.items():
        key = f"{split}_dataloader.dataset.pipeline"
        if pipeline != [dict(t) for t in overrides.get(key, cfg[f"{split}_dataloader"].dataset.pipeline)]:
            out[key] = pipeline
    return out


def with_cfg_options(specs: list[RunSpec], options: dict) -> list[RunSpec]:
    """``--cfg-options``: the same mmengine overrides on every selected run that trains or tests a
    model. They are part of each run's definition, so changed options make new runs (new ids;
    the runs that depend on them, fine-tunes and ensembles, follow), never a silent reuse."""
    if not options:
        return specs
    for config in {s.config for s in specs if s.config}:
        check_override_keys(load_config(config), options, "--cfg-options", config)
    renamed: dict[str, str] = {}

    def rename(value):
        if isinstance(value, str) and value.startswith(CHECKPOINT_OF):
            return CHECKPOINT_OF + renamed.get(value[len(CHECKPOINT_OF):], value[len(CHECKPOINT_OF):])
        return value

    out = []
    for s in specs:  # in launch order: what a run depends on comes before it
        overrides = {k: rename(v) for k, v in s.overrides.items()}
        # options that switch the fidelity switch the training sampler with it
        merged = fidelity_samplers(s.config, s.dataset, {**overrides, **options}) if s.config else overrides
        new = replace(s, overrides=merged,
                      depends_on=tuple(renamed.get(d, d) for d in s.depends_on),
                      members=tuple(renamed.get(m, m) for m in s.members))
        renamed[s.run_id] = new.run_id
        out.append(new)
    return out
