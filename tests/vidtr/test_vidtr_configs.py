"""mmaction2 config files of the named models, and the import shim."""
import pytest
from mmengine.config import Config

import vidtr

ALL = vidtr.list_models()


@pytest.mark.parametrize("name", ALL)
def test_every_named_model_has_a_config_with_its_clip(name):
    cfg = Config.fromfile(str(vidtr.config_path(name)))
    assert cfg.model.type == "Recognizer3D" and cfg.model.backbone == dict(type="VidTr", arch=name, pretrained=None)
    spec = vidtr.resolve_spec(name, {})
    assert cfg.model.cls_head.in_channels == spec.embed_dims
    clip_len, interval = vidtr.clip_of(name)
    assert clip_len == spec.num_frames and name.endswith(f"_{clip_len}x{interval}")
    for split, clips in (("train", 1), ("val", 1), ("test", 10)):
        kind = "SpreadSampleFrames" if split == "train" else "SampleFrames"  # the released training sampler
        sample = next(t for t in cfg[f"{split}_dataloader"].dataset.pipeline if t.type == kind)
        assert (sample.clip_len, sample.frame_interval, sample.num_clips) == (clip_len, interval, clips)
    test_types = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert "ThreeCrop" in test_types and cfg.model.cls_head.average_clips == "prob"  # 30 views, softmax averaged
    train_types = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert train_types[:3] == ["DecordInit", "SpreadSampleFrames", "DecordDecode"] and "RandomRescale" in train_types
    assert cfg.optim_wrapper.optimizer == dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=1e-5)


def test_data_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDTR_DATA_ROOT", str(tmp_path))
    cfg = Config.fromfile(str(vidtr.config_path("vidtr_s_8x8")))
    assert cfg.train_dataloader.dataset.ann_file == f"{tmp_path}/kinetics400/kinetics400_train_list_videos.txt"


def test_mmaction_models_import_with_the_drn_shim():
    import mmaction.models  # noqa: F401  (fails on mmaction2 1.2.0 without the shim)
    from mmaction.models.localizers.drn.drn import DRN

    with pytest.raises(RuntimeError, match="2714"):
        DRN()
