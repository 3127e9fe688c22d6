"""Annotation builders and the bad-video-aware dataset."""
import json

import numpy as np
import pytest

import vidtr  # noqa: F401
from benchmark.data import annotations
from benchmark.data import datasets as ds
from benchmark.runs.metrics import mean_average_precision, metrics_from_scores
from benchmark.smoke import make_clips


def test_kinetics_csv_to_list(tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text("label,youtube_id,time_start,time_end,split\n"
                   "abseiling,abc,10,20,train\nair drumming,xyz,0,10,train\n")
    classes = annotations.kinetics_list(csv, tmp_path / "train_list.txt")
    assert classes == ["abseiling", "air drumming"]
    assert (tmp_path / "train_list.txt").read_text().splitlines() == [
        "abseiling/abc_000010_000020.mp4 0", "air_drumming/xyz_000000_000010.mp4 1"]
    csv.write_text("label,youtube_id,time_start,time_end,split\nabseiling,abc,ten,20,train\n")
    with pytest.raises(ds.AnnotationError, match=r"train.csv:2: time_start/time_end"):
        annotations.kinetics_list(csv, tmp_path / "x.txt")
    csv.write_text("label,youtube_id\nabseiling,abc\n")
    with pytest.raises(ds.AnnotationError, match=r"missing column\(s\) \['time_start', 'time_end'\]"):
        annotations.kinetics_list(csv, tmp_path / "x.txt")


def test_sthv2_json_to_list(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"Holding something": "1", "Moving something up": "0"}))
    (tmp_path / "train.json").write_text(json.dumps([
        {"id": "7", "template": "Holding [something]", "label": "holding a cup"},
        {"id": "9", "template": "Moving [something] up", "label": "moving a pen up"}]))
    classes = annotations.sthv2_list(tmp_path / "train.json", tmp_path / "labels.json", tmp_path / "l.txt")
    assert classes == ["Moving something up", "Holding something"]
    assert (tmp_path / "l.txt").read_text().split("\n")[:2] == ["7.webm 1", "9.webm 0"]


def test_charades_csv_is_multi_label(tmp_path):
    (tmp_path / "classes.txt").write_text("c000 Holding some clothes\nc001 Putting clothes somewhere\nc002 Tidying\n")
    (tmp_path / "train.csv").write_text("id,subject,actions\nAB12,s1,c002 1.0 5.0;c000 2.0 3.0\nCD34,s2,\n"
                                        "EF56,s3,c001 0.0 1.0\n")
    classes = annotations.charades_list(tmp_path / "train.csv", tmp_path / "classes.txt", tmp_path / "l.txt")
    assert classes[2] == "Tidying"
    assert (tmp_path / "l.txt").read_text().splitlines() == ["AB12.mp4 0 2", "EF56.mp4 1"]
    (tmp_path / "bad.csv").write_text("id,actions\nAB12,c099 1.0 2.0\n")
    with pytest.raises(ds.AnnotationError, match=r"bad.csv:2: unknown action code\(s\) \['c099'\]"):
        annotations.charades_list(tmp_path / "bad.csv", tmp_path / "classes.txt", tmp_path / "l.txt")


def test_ucf101_and_hmdb51_split_lists(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n")
    (tmp_path / "testlist01.txt").write_text("Archery/v_Archery_g01_c01.avi\nApplyEyeMakeup/v_A_g01_c01.avi\n")
    annotations.ucf101_list(tmp_path / "testlist01.txt", tmp_path / "classInd.txt", tmp_path / "ucf.txt")
    assert (tmp_path / "ucf.txt").read_text().splitlines() == ["Archery/v_Archery_g01_c01.avi 1",
                                                              "ApplyEyeMakeup/v_A_g01_c01.avi 0"]
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "brush_hair_test_split1.txt").write_text("a.avi 1\nb.avi 2\nc.avi 0\n")
    (splits / "cartwheel_test_split1.txt").write_text("d.avi 2\n")
    classes = annotations.hmdb51_list(splits, tmp_path / "hmdb.txt", split=1, subset="test")
    assert classes == ["brush_hair", "cartwheel"]
    assert (tmp_path / "hmdb.txt").read_text().splitlines() == ["brush_hair/b.avi 0", "cartwheel/d.avi 1"]
    (splits / "cartwheel_test_split1.txt").write_text("d.avi 7\n")
    with pytest.raises(ds.AnnotationError, match=r"cartwheel_test_split1.txt:1"):
        annotations.hmdb51_list(splits, tmp_path / "hmdb.txt")


def _dataset(root, lines, test_mode=False, max_bad=0.5):
    ann = root / "list.txt"
    ann.write_text("\n".join(lines) + "\n")
    pipeline = [dict(type="DecordInit"), dict(type="SampleFrames", clip_len=4, frame_interval=1, num_clips=1,
                                               test_mode=test_mode), dict(type="DecordDecode")]
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    return ds.CheckedVideoDataset(ann_file=str(ann), pipeline=pipeline, data_prefix=dict(video=str(root / "videos")),
                                  test_mode=test_mode, max_bad_fraction=max_bad,
                                  bad_videos_file=str(root / "bad.txt"))


def test_bad_videos_are_reported_counted_and_skipped(tmp_path):
    base = make_clips(tmp_path)
    (base / "videos").symlink_to("videos_train")
    (base / "videos" / "corrupt.avi").write_bytes(b"not a video" * 50)
    lines = [f"train_{i:03d}.avi {i % 2}" for i in range(4)] + ["gone.avi 0", "corrupt.avi 1"]
    data = _dataset(base, lines)
    assert len(data) == 5 and [p for p, _ in data.bad] == [str(base / "videos" / "gone.avi")]
    corrupt = next(i for i in range(len(data)) if data.get_data_info(i)["filename"].endswith("corrupt.avi"))
    sample = data[corrupt]  # training: another video is drawn instead
    assert sample["imgs"][0].shape[:2] == (32, 32)
    assert "corrupt.avi\tunreadable" in (base / "bad.txt").read_text()
    assert len(data.bad) == 2
    test = _dataset(base, lines, test_mode=True)
    with pytest.raises(RuntimeError, match="test video .*corrupt.avi cannot be decoded"):
        test[corrupt]


def test_too_many_bad_videos_fail_the_run_clearly(tmp_path):
    base = make_clips(tmp_path)
    (base / "videos").symlink_to("videos_train")
    lines = ["train_000.avi 0", "gone1.avi 0", "gone2.avi 1"]
    with pytest.raises(RuntimeError, match=r"2 of 3 videos .* are missing or unreadable \(over the allowed 10%\)"):
        _dataset(base, lines, max_bad=0.1)


def test_malformed_annotation_line_names_file_and_line(tmp_path):
    base = make_clips(tmp_path)
    (base / "videos").symlink_to("videos_train")
    with pytest.raises(ds.AnnotationError, match=r"list.txt:2: .*'train_001.avi one'"):
        _dataset(base, ["train_000.avi 0", "train_001.avi one"])


def test_data_root_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv(ds.DATA_ROOT_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="no dataset root"):
        ds.resolve_data_root(None)
    monkeypatch.setenv(ds.DATA_ROOT_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="missing does not exist"):
        ds.resolve_data_root(None)
    assert ds.resolve_data_root(str(tmp_path)) == tmp_path


def test_metrics_on_hand_checked_examples():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = np.array([1, 1, 2, 0])
    m = metrics_from_scores(scores, labels)
    assert m["top1"] == 75.0 and m["top5"] == 100.0
    assert m["mean_class"] == pytest.approx((100 + 50 + 100) / 3)
    # AP: class 0 positives at ranks 1 and 3 -> (1/1 + 2/3) / 2; class 1 its positive first -> 1
    targets = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    s = np.array([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.05]])
    assert mean_average_precision(s, targets) == pytest.approx(100 * ((1 + 2 / 3) / 2 + 1) / 2)


def test_paths_join_the_data_root_as_mmengine_does():
    """Annotation file and video prefix are joined to a dataset's data_root when relative (the
    prefix even when empty, as BaseDataset does), left alone when absolute; ``fill`` applies first."""
    from benchmark.data.datasets import ann_path, video_prefix

    ds = dict(data_root="ROOT", ann_file="a.txt", data_prefix=dict(video="vids"))
    fill = lambda v: v.replace("ROOT", "/data")  # noqa: E731
    assert (ann_path(ds, fill), video_prefix(ds, fill)) == ("/data/a.txt", "/data/vids")
    assert video_prefix(dict(data_root="/d")) == "/d/" and ann_path(dict(data_root="/d")) == ""
    assert video_prefix(dict(data_root="/d", data_prefix=dict(video="/v"))) == "/v"
    assert video_prefix(dict(data_prefix=dict(video="v"))) == "v"
