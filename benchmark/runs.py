"""Runs: a paper-table row becomes one or more runs (config + overrides + seed) with a
stable id, its own work directory, and the runs it depends on (a fine-tuning run needs its
Kinetics-400 checkpoint; an ensemble needs its members' scores)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from . import REPO, catalogue
from .datasets import get_dataset
from .paper import TABLES, Row, Table

HOME_ENV = "VIDTR_BENCH_HOME"
# Tables of our own, on data they generate: each module has TABLE (a paper.Table without paper
# values), DEFAULT_DATA (under the bench home), prepare_data(data_root, seed, **options) and
# runs(data_root, seed, **options). Imported when asked for: they register mmengine hooks.
GENERATED = {"smoke": "benchmark.smoke", "demo": "benchmark.demo"}
# Table 6 columns -> datasets; other tables run on their table's dataset
TABLE6_DATASETS = {"charades_map": "charades", "ssv2_top1": "sthv2", "ucf_top1": "ucf101", "hmdb_top1": "hmdb51"}
TABLE_DATASET = {"k400": "kinetics400", "k700": "kinetics700", "charades": "charades"}
DATA_ROOT = "{data_root}"  # placeholder in overrides, so run ids do not depend on where data lives
CHECKPOINT_OF = "checkpoint-of:"  # load_from value naming another run whose final checkpoint to start from
# top-level keys mmengine's Runner.from_cfg reads even when a config file leaves them out
RUNNER_KEYS = {"load_from", "resume", "custom_hooks", "randomness", "launcher", "env_cfg", "log_processor",
               "visualizer", "default_scope", "auto_scale_lr", "experiment_name", "cfg"}


@dataclass(frozen=True)
class RunSpec:
    table: str
    row: str
    model: str  # a VidTr or baseline name; "" for ensembles
    config: str  # path of the mmengine config (relative to the repository)
    dataset: str
    seed: int = 0
    protocol: str = "30view"  # "30view" or "single_pass" (Appendix B)
    overrides: dict = field(default_factory=dict)  # dotted mmengine keys -> values
    depends_on: tuple = ()  # run ids that must finish first
    members: tuple = ()  # ensembles: member run ids, scores averaged
    data_root: str = ""  # fills "{data_root}" in overrides at run time; not part of the run id

    @property
    def run_id(self) -> str:
        """Stable and content-addressed: the same config, overrides, dataset, protocol and seed
        give the same id whichever table asks, so a run shared by tables (VidTr-S in Tables
        1, 2, 5 and the ensembles) is trained once."""
        key = json.dumps([self.config, self.dataset, self.protocol, self.seed, self.overrides, list(self.members)],
                         sort_keys=True, default=str)
        name = self.model or "ensemble-" + self.row
        slug = re.sub(r"[^a-z0-9]+", "-", f"{name}-{self.dataset}".lower()).strip("-")[:48]
        return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        d = dict(d)
        d["depends_on"], d["members"] = tuple(d.get("depends_on", ())), tuple(d.get("members", ()))
        return cls(**d)


def check_override_keys(cfg, keys, what: str, config: str) -> None:
    """Every dotted key must start at a top-level key of the config (or one mmengine's Runner
    reads), so a typo fails here, naming the key, instead of silently adding an unused one."""
    for key in keys:
        top = key.split(".")[0]
        if top not in cfg and top not in RUNNER_KEYS:
            raise KeyError(f"{what} {key!r} names no top-level key of {config} "
                           f"(nor one of mmengine's Runner: {', '.join(sorted(RUNNER_KEYS))})")


def with_cfg_options(specs: list[RunSpec], options: dict) -> list[RunSpec]:
    """``--cfg-options``: the same mmengine overrides on every selected run that trains or tests a
    model. They are part of each run's definition, so changed options make new runs (new ids;
    the runs that depend on them, fine-tunes and ensembles, follow), never a silent reuse."""
    from dataclasses import replace

    from mmengine.config import Config

    if not options:
        return specs
    for config in {s.config for s in specs if s.config}:
        check_override_keys(Config.fromfile(str(REPO / config)), options, "--cfg-options", config)
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


def bench_home(workdir: Optional[str] = None) -> Path:
    """Root of all run directories: ``--workdir``, else ``$VIDTR_BENCH_HOME``, else ``./work``."""
    return Path(workdir or os.environ.get(HOME_ENV) or "work").resolve()


def run_dir(home: Path, spec_or_id) -> Path:
    """``<home>/runs/<run id>``: one directory per run, shared by every table that needs it."""
    return home / "runs" / (spec_or_id if isinstance(spec_or_id, str) else spec_or_id.run_id)


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
    base = f"{DATA_ROOT}/{dataset}"
    o: dict = {"model.cls_head.num_classes": info.num_classes}
    for split, ann in (("train", "train"), ("val", "val"), ("test", "val")):
        o[f"{split}_dataloader.dataset.type"] = "CheckedVideoDataset"
        o[f"{split}_dataloader.dataset.ann_file"] = f"{base}/{ann}_list.txt"
        o[f"{split}_dataloader.dataset.data_prefix"] = {"video": f"{base}/videos"}
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
    from mmengine.config import Config

    fidelity = overrides.get("model.backbone.fidelity")
    if fidelity is None or not config:
        return overrides
    cfg = Config.fromfile(str(REPO / config))
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


def total_batch(cfg, world_size: int) -> Optional[int]:
    """Clips per optimizer step: clips per GPU x GPUs (x gradient accumulation steps); None for a
    run that does not train. The released configs: 3 x 8 = 24 for VidTr-S/M (1 x 8 for VidTr-L,
    8 x 8 for the compact models); the paper: 6 x 64 = 384 for VidTr-S (Sec. 3.3)."""
    if not cfg.get("train_cfg") or not cfg.get("train_dataloader"):
        return None
    accumulate = (cfg.get("optim_wrapper") or {}).get("accumulative_counts", 1)
    return int(cfg.train_dataloader.batch_size) * int(world_size) * int(accumulate)


def _input_rate(text: str) -> Optional[int]:
    """Frame interval of an input written "16x4" / "(32+8)x2"; None for TSN-style inputs."""
    m = re.search(r"x(\d+)$", text.strip())
    return int(m.group(1)) if m else None


def _resampled(pipeline: list, clip_len: int, rate: Optional[int]) -> Optional[list]:
    """The pipeline with its dense sampler (SampleFrames or SpreadSampleFrames) set to
    ``clip_len`` x ``rate``; None if it already is. A 2D model's TSN-style sampler (one frame
    from each of ``num_clips`` segments: TSM's "8f TSN") is left alone: its frames are its
    segments, not a clip length."""
    out, changed = [], False
    for t in pipeline:
        tsn_2d = t.get("clip_len") == 1 and t.get("num_clips", 1) > 1
        if t["type"] in DENSE_SAMPLERS and not tsn_2d and (t["clip_len"], t["frame_interval"]) != (
                clip_len, rate or t["frame_interval"]):
            t = dict(t, clip_len=clip_len, frame_interval=rate or t["frame_interval"])
            changed = True
        out.append(t)
    return out if changed else None


def _present(cfg, overrides: dict) -> dict:
    """The overrides a config can take: zoo test-only configs (X3D) have no training or
    validation to point at a dataset or schedule."""
    absent = {k for k in ("train_dataloader", "val_dataloader", "val_evaluator", "train_cfg", "param_scheduler")
              if k not in cfg}
    return {k: v for k, v in overrides.items() if k.split(".")[0] not in absent}


def _model_run(table: Table, row: Row, model: str, frames: int, dataset: str, data_root: str,
               protocol: str, seed: int, k400_runs: dict) -> RunSpec:
    from mmengine.config import Config

    config = catalogue.get(model).config_rel
    cfg = Config.fromfile(str(REPO / config))
    depends, load_from = (), None
    if dataset != "kinetics400":  # fine-tuned from this model's Kinetics-400 run
        k400 = k400_runs.setdefault(model, RunSpec(table.id, f"{model} (K400)", model, config, "kinetics400", seed,
                                                   overrides=_present(cfg, dataset_overrides("kinetics400")),
                                                   data_root=data_root))
        # resolved by the job from that run's record once it has finished
        depends, load_from = (k400.run_id,), f"{CHECKPOINT_OF}{k400.run_id}"
    pipelines = {f"{split}_pipeline": cfg[f"{split}_dataloader"].dataset.pipeline
                 for split in ("train", "val") if cfg.get(f"{split}_dataloader")}  # zoo test-only configs: none
    overrides = dataset_overrides(dataset, protocol, frames, cfg.test_dataloader.dataset.pipeline, load_from,
                                  **pipelines)
    rate = _input_rate(row.input)
    for split in ("train", "val", "test"):  # the row's input (e.g. A.2's I3D at 16x4) over the config's
        if not cfg.get(f"{split}_dataloader"):  # zoo test-only configs (X3D): evaluation runs only
            continue
        key = f"{split}_dataloader.dataset.pipeline"
        resampled = _resampled(overrides.get(key, cfg[f"{split}_dataloader"].dataset.pipeline), frames, rate)
        if resampled is not None:
            overrides[key] = resampled
    overrides = _present(cfg, fidelity_samplers(config, dataset, overrides))
    return RunSpec(table.id, row.label, model, config, dataset, seed, protocol, overrides, depends, data_root=data_root)


def _paper_runs(table_id: str, data_root: str, rows: Optional[list] = None, seed: int = 0) -> list[RunSpec]:
    """Every run a paper table needs, dependencies first (the K400 runs fine-tuning starts from,
    ensemble members), in launch order."""
    from .paper import select

    runs: dict[str, RunSpec] = {}
    k400_runs: dict[str, RunSpec] = {}
    for table, row in select(table_id, rows):
        protocol = "single_pass" if table.id == "A.1" and row.views == 1 else "30view"
        if table.id == "6":
            datasets = [TABLE6_DATASETS[m] for m in row.paper if m in TABLE6_DATASETS]
        else:
            datasets = [TABLE_DATASET[table.dataset]]
        for dataset in datasets:
            if row.model:
                spec = _model_run(table, row, row.model, row.frames, dataset, data_root, protocol, seed, k400_runs)
                runs.setdefault(spec.run_id, spec)
            elif row.members:
                members = []
                for m in row.members:
                    mrow = Row(f"{row.label}: {m.model} {m.frames}f", m.model, f"{m.frames}", m.frames, row.views,
                               m.res)
                    spec = _model_run(table, mrow, m.model, m.frames, dataset, data_root, protocol, seed, k400_runs)
                    runs.setdefault(spec.run_id, spec)
                    members.append(spec.run_id)
                ens = RunSpec(table.id, row.label, "", "", dataset, seed, protocol, depends_on=tuple(members),
                              members=tuple(members), data_root=data_root)
                runs.setdefault(ens.run_id, ens)
    k400_ids = {k.run_id for k in k400_runs.values()}
    return list(k400_runs.values()) + [r for r in runs.values() if r.run_id not in k400_ids]


def _generated(table_id: str):
    import importlib

    return importlib.import_module(GENERATED[table_id])


def table_ids() -> list[str]:
    return list(TABLES) + list(GENERATED)


def get_table(table_id: str) -> Table:
    """A paper table, or one of our generated tables (smoke, demo)."""
    if table_id in GENERATED:
        return _generated(table_id).TABLE
    if table_id not in TABLES:
        raise KeyError(f"unknown table {table_id!r}; valid tables: {', '.join(table_ids())}")
    return TABLES[table_id]


def default_data_root(table_id: str, home: Path) -> str:
    """Where a generated table writes its data when no data root is given ("" for the paper's)."""
    return str(home / _generated(table_id).DEFAULT_DATA) if table_id in GENERATED else ""


def prepare_data(table_id: str, data_root: str, seed: int = 0, **options) -> None:
    """Write a generated table's data under ``data_root`` on first use (paper tables: nothing)."""
    if table_id in GENERATED:
        Path(data_root).mkdir(parents=True, exist_ok=True)
        _generated(table_id).prepare_data(data_root, seed, **options)


def table_runs(table_id: str, data_root: str = "", rows: Optional[list] = None, seed: int = 0,
               cfg_options: Optional[dict] = None, **options) -> list[RunSpec]:
    """The runs of any table (``options``: a generated table's own, e.g. the smoke table's
    ``epochs``; ``cfg_options``: mmengine overrides for every run), only the rows asked for, in
    launch order."""
    if table_id not in GENERATED:
        get_table(table_id)
        return with_cfg_options(_paper_runs(table_id, data_root, rows, seed), cfg_options or {})
    specs = with_cfg_options(_generated(table_id).runs(data_root, seed, **options), cfg_options or {})
    if rows:
        known = [s.row for s in specs]
        bad = [r for r in rows if r not in known]
        if bad:
            raise KeyError(f"table {table_id} has no row(s) {bad}; valid rows: {', '.join(known)}")
        specs = [s for s in specs if s.row in rows]
    return specs
