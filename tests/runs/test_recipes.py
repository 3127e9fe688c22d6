"""Every run follows the paper's recipe for its dataset: each test reads the resolved config of
the actual runs (the config file with the run's overrides, as the job builds it)."""
import copy
import functools

import numpy as np
from mmaction.registry import TRANSFORMS
from mmengine.config import Config

import vidtr
from benchmark import REPO
from benchmark.runs.config import total_batch
from benchmark.runs.recipes import fidelity_samplers
from benchmark.runs.records import _RecordOptional
from benchmark.runs.spec import CHECKPOINT_OF
from benchmark.runs.tables import table_runs
from vidtr.configs.data import kinetics_pipelines
from vidtr.transforms import SpreadSampleFrames

DENSE = ("SampleFrames", "SpreadSampleFrames")
TABLES = ("1", "2", "3", "4a", "4b", "4c", "4d", "4e", "4f", "5", "6", "A.1", "A.2", "A.3")


@functools.lru_cache(maxsize=None)
def _config(path: str) -> Config:
    return Config.fromfile(str(REPO / path))


def resolved(spec):
    """The run's config as the job builds it (its file, the run's overrides), data paths unresolved."""
    cfg = copy.deepcopy(_config(spec.config))
    cfg.merge_from_dict(dict(spec.overrides), allow_list_keys=True)
    return cfg


def pipeline(cfg, split):
    return [dict(t) for t in cfg[f"{split}_dataloader"].dataset.pipeline]


def samplers(cfg, split):
    return [t for t in pipeline(cfg, split) if t["type"] in DENSE + ("UniformSample",)]


def call(step, total_frames):
    """A sampler step of a resolved pipeline, built by mmaction2's registry, on a video of
    ``total_frames`` frames: its frame indices, one row per clip."""
    out = TRANSFORMS.build(dict(step)).transform(dict(total_frames=total_frames, start_index=0))
    return out["frame_inds"].reshape(out["num_clips"], out["clip_len"])


def runs_on(table, *datasets):
    return [s for s in table_runs(table, "/data") if s.config and s.dataset in datasets]


def test_ssv2_trains_and_tests_tsn_style_without_flip():
    specs = runs_on("6", "sthv2")
    assert {s.model for s in specs} >= {"vidtr_m_16x4", "vidtr_l_32x2"}
    for s in specs:
        cfg = resolved(s)
        frames = {"vidtr_m_16x4": 16, "vidtr_l_32x2": 32}.get(s.model)
        for split in ("train", "val", "test"):
            (step,) = samplers(cfg, split)  # one sampler, TSN-style: clip_len segments of the whole video
            assert step["type"] == "UniformSample" and step.get("test_mode", False) == (split != "train"), s.row
            assert frames is None or step["clip_len"] == frames
        assert not any(t["type"] == "Flip" for t in pipeline(cfg, "train"))  # SSv2 has left/right classes
        assert not any(t["type"] == "ThreeCrop" for t in pipeline(cfg, "test"))
    # on a 40-frame video (SSv2: 30-70 frames) nothing wraps: one frame from each segment, in order
    train, test = (samplers(resolved(specs[-1]), split)[0] for split in ("train", "test"))
    inds = call(train, 40)[0]
    assert (np.diff(inds) >= 0).all() and inds.max() < 40 and inds[0] < 40 / train["clip_len"] + 1
    centres = call(test, 40)[0]
    seg = 39 / test["clip_len"]
    assert list(centres) == [int(round(seg * i)) + int(seg / 2) for i in range(test["clip_len"])]


def test_fast_vidtr_trains_with_the_uniform_sampling_it_is_tested_with():
    specs = {s.row: s for s in table_runs("A.1", "/data")}
    compact = {s.model: s.run_id for s in table_runs("3", "/data")}
    for row, frames in (("F-VidTr-S", 8), ("F-VidTr-M", 16)):
        s = specs[row]
        cfg = resolved(s)
        assert s.protocol == "single_pass" and s.run_id != compact[s.model]  # its own training run
        assert samplers(cfg, "train") == [dict(type="UniformSample", clip_len=frames, num_clips=1)]
        for split in ("val", "test"):
            assert samplers(cfg, split) == [dict(type="UniformSample", clip_len=frames, num_clips=1, test_mode=True)]
        assert any(t["type"] == "CenterCrop" for t in pipeline(cfg, "test"))


def test_ucf_and_hmdb_fine_tune_for_6_epochs():
    specs = runs_on("6", "ucf101", "hmdb51")
    assert {(s.model, s.dataset) for s in specs} >= {(m, d) for m in ("vidtr_m_16x4", "vidtr_l_32x2")
                                                     for d in ("ucf101", "hmdb51")}
    for s in specs:
        cfg = resolved(s)
        assert cfg.train_cfg.max_epochs == 6 and cfg.train_cfg.val_interval <= 6, s.run_id
        assert str(cfg.load_from).startswith(CHECKPOINT_OF)  # from its Kinetics-400 run
        for sched in cfg.param_scheduler:
            assert sched.get("end", 6) <= 6 and all(0 < m < 6 for m in sched.get("milestones", [])), sched
    charades = next(s for s in runs_on("6", "charades") if s.model == "vidtr_l_32x2")
    assert resolved(charades).train_cfg.max_epochs == 50  # other datasets keep the config's schedule


def test_released_sampler_spreads_frames_over_the_window():
    def inds(total, clip_len=8, rate=8, **kw):
        return SpreadSampleFrames(clip_len, rate, **kw).transform(dict(total_frames=total, start_index=0))

    out = inds(64)  # a window of 64 frames in a 64-frame video: the start can only be 0
    assert list(out["frame_inds"]) == [0, 9, 18, 27, 36, 45, 54, 63]
    assert (out["clip_len"], out["frame_interval"], out["num_clips"]) == (8, 8, 1)
    np.random.seed(0)
    starts = set()
    for _ in range(20):  # a random window start, the same spread
        f = inds(300)["frame_inds"]
        assert list(f - f[0]) == [0, 9, 18, 27, 36, 45, 54, 63] and 0 <= f[0] <= 300 - 64
        starts.add(int(f[0]))
    assert len(starts) > 1
    assert set(np.diff(inds(300, 16, 4)["frame_inds"])) == {4, 5}  # 16x4: gaps mix 4 and 5
    assert list(inds(300, test_mode=True)["frame_inds"][:1]) == [(300 - 64) // 2]  # one test clip: centred
    ten = inds(300, num_clips=10, test_mode=True)["frame_inds"].reshape(10, 8)
    assert list(ten[:, 0]) == [round(i * 236 / 9) for i in range(10)] and ten[-1, -1] == 299
    # mmaction2's sampler, kept for the paper fidelity: a fixed stride
    mm = TRANSFORMS.build(kinetics_pipelines(8, 8, sampler="mmaction")["train"][1])
    assert list(mm.transform(dict(total_frames=64, start_index=0))["frame_inds"]) == list(range(0, 64, 8))


def test_every_vidtr_training_pipeline_uses_the_released_sampler():
    for name in vidtr.list_models():
        cfg = Config.fromfile(str(vidtr.config_path(name)))
        clip_len, rate = vidtr.clip_of(name)
        assert samplers(cfg, "train") == [dict(type="SpreadSampleFrames", clip_len=clip_len, frame_interval=rate,
                                                num_clips=1)], name
    seen = set()
    for table in TABLES:
        for s in table_runs(table, "/data"):
            if not s.config or s.run_id in seen:
                continue
            seen.add(s.run_id)
            cfg = resolved(s)
            if "train_dataloader" not in cfg:  # zoo test-only configs (X3D)
                continue
            kinds = {t["type"] for t in samplers(cfg, "train")}
            if s.config.startswith("vidtr/"):
                tsn = s.dataset == "sthv2" or s.protocol == "single_pass"
                assert kinds == ({"UniformSample"} if tsn else {"SpreadSampleFrames"}), (table, s.row, kinds)
            else:  # baselines keep mmaction2's samplers
                assert "SpreadSampleFrames" not in kinds, (table, s.row)
    assert len(seen) > 60


def test_paper_fidelity_runs_train_with_mmaction2s_sampler():
    spec = runs_on("6", "hmdb51")[-1]
    assert spec.model == "vidtr_l_32x2"
    paper = fidelity_samplers(spec.config, spec.dataset, {**spec.overrides, "model.backbone.fidelity": "paper"})
    cfg = Config.fromfile(str(REPO / spec.config))
    cfg.merge_from_dict(paper, allow_list_keys=True)
    (train,) = samplers(cfg, "train")
    assert train == dict(type="SampleFrames", clip_len=32, frame_interval=4, num_clips=1,
                         out_of_bound_opt="repeat_last")  # HMDB-51: never wraps
    assert all(samplers(cfg, split)[0]["type"] == "SampleFrames" for split in ("val", "test"))
    back = fidelity_samplers(spec.config, spec.dataset, {**paper, "model.backbone.fidelity": "released"})
    assert {k: v for k, v in back.items() if k != "model.backbone.fidelity"} == spec.overrides
    k400 = table_runs("1", "/data", rows=["VidTr-S"])[0]  # no fidelity override: nothing changes
    assert fidelity_samplers(k400.config, k400.dataset, k400.overrides) == k400.overrides


def test_short_videos_never_wrap_around():
    """HMDB-51 at 32x4 needs 128 frames. The released sampler spreads the clip over the whole
    video (both ends, order kept; fewer frames than clip_len repeat evenly); mmaction2's
    SampleFrames (baselines, paper fidelity) repeats the last frame instead of wrapping."""
    specs = runs_on("6", "ucf101", "hmdb51")
    for total in (20, 40, 100):
        spread = SpreadSampleFrames(32, 4).transform(dict(total_frames=total, start_index=0))["frame_inds"]
        assert list(spread) == list(np.floor(np.linspace(0, total - 1, 32) + 1e-6).astype(int))
        assert spread[0] == 0 and spread[-1] == total - 1 and (np.diff(spread) >= 0).all()
        for s in specs:
            cfg = resolved(s)
            for split in ("train", "val", "test"):
                for step in samplers(cfg, split):
                    if step["type"] == "SampleFrames":
                        assert step["out_of_bound_opt"] == "repeat_last", (s.run_id, split)
                    for clip in call(step, total):
                        assert (np.diff(clip) >= 0).all() and clip.max() < total, (s.run_id, split, list(clip))
            if s.config.startswith("vidtr/"):  # tested with the sampler it was trained with
                assert {t["type"] for split in ("train", "val", "test") for t in samplers(cfg, split)} == \
                    {"SpreadSampleFrames"}
        # mmaction2's default would have wrapped: frame 0 again after the last frame
        looped = TRANSFORMS.build(dict(type="SampleFrames", clip_len=32, frame_interval=4, test_mode=True))
        assert (np.diff(looped.transform(dict(total_frames=total, start_index=0))["frame_inds"]) < 0).any()


def test_batch_follows_the_released_configs_and_switches_to_the_papers():
    from slurm.launcher import load_profile

    released = {"VidTr-S": 3, "VidTr-M": 3, "VidTr-L": 1, "C-VidTr-S": 8, "C-VidTr-M": 8, "C-VidTr-L": 8}
    for s in table_runs("1", "/data"):
        cfg = resolved(s)
        assert cfg.train_dataloader.batch_size == released[s.row]
        assert total_batch(cfg, 8) == 8 * released[s.row]  # the released configs: 8 GPUs
        assert cfg.optim_wrapper.optimizer.lr == 0.01 and not cfg.auto_scale_lr.enable
    # the paper (Sec. 3.3): 6 clips per GPU on 64 GPUs, the same learning rate
    (paper,) = table_runs("1", "/data", rows=["VidTr-S"], cfg_options={"train_dataloader.batch_size": 6})
    cfg = resolved(paper)
    profile = load_profile("v100x64")
    assert total_batch(cfg, profile["nodes"] * profile["gpus_per_node"]) == 384
    assert cfg.optim_wrapper.optimizer.lr == 0.01 and not cfg.auto_scale_lr.enable
    assert total_batch(Config(dict(train_dataloader=dict(batch_size=3))), 8) is None  # no training, no batch
    assert "total_batch" in _RecordOptional.__annotations__
