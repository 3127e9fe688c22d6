"""Data faults: a damaged video never takes the process down and is named; a label out of
range is named by file and line before anything trains."""
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vidtr  # noqa: F401
from benchmark.data import datasets as ds
from benchmark.data.containers import declared_size
from benchmark.data.decoders import DecordInitByPath
from benchmark.smoke import make_clips

PIPELINE = [dict(type="DecordInit"), dict(type="SampleFrames", clip_len=4, frame_interval=1, num_clips=1),
            dict(type="DecordDecode")]


def _clips(tmp_path) -> Path:
    """The smoke clips, with both splits' videos also in one ``videos/`` folder, which the
    datasets built here read (the runs' configs read ``videos_train/`` and ``videos_val/``)."""
    base = make_clips(tmp_path, n_train=4, n_test=2)
    (base / "videos").mkdir(exist_ok=True)
    for clip in [*base.glob("videos_train/*.avi"), *base.glob("videos_val/*.avi")]:
        shutil.copy(clip, base / "videos" / clip.name)
    return base


def _truncate(path: Path, fraction: float = 0.4) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _dataset(base, lines, test_mode=False, num_classes=2, max_bad=0.3):
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    ann = base / ("test_list.txt" if test_mode else "train_list.txt")
    ann.write_text("\n".join(lines) + "\n")
    data = ds.CheckedVideoDataset(ann_file=str(ann), pipeline=PIPELINE, data_prefix=dict(video=str(base / "videos")),
                                  test_mode=test_mode, num_classes=num_classes, max_bad_fraction=max_bad,
                                  bad_videos_file=str(base / f"bad_videos_{'test' if test_mode else 'train'}.txt"))
    # decord opened from a buffer (mmaction2's DecordInit) would kill this process on a cut file
    assert isinstance(data.pipeline.transforms[0], DecordInitByPath)  # the fast decoder is one (by path too)
    return data


def test_truncated_training_video_is_skipped_named_and_training_goes_on(tmp_path):
    base = _clips(tmp_path)
    cut = _truncate(base / "videos" / "train_001.avi")
    data = _dataset(base, [f"train_{i:03d}.avi {i % 2}" for i in range(4)])
    samples = [data[i] for i in range(len(data))]  # the cut one is replaced by another video
    assert all(s["imgs"][0].shape[:2] == (32, 32) and len(s["imgs"]) == 4 for s in samples)
    bad = (base / "bad_videos_train.txt").read_text()
    assert bad.startswith(f"{cut}\ttruncated: {cut.stat().st_size} of the ") and bad.count("\n") == 1
    assert data.bad == [(str(cut), bad.split("\t")[1].strip())]
    assert (base / "last_video_train.txt").read_text().strip().endswith(".avi")


def test_truncated_test_video_stops_the_run_naming_it_without_a_crash(tmp_path):
    """In a child process: mmaction2's DecordInit would end it with SIGSEGV."""
    base = _clips(tmp_path)
    _truncate(base / "videos" / "val_001.avi")
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_faults_data import _dataset
        data = _dataset(Path({str(base)!r}), ["val_000.avi 0", "val_001.avi 1"], test_mode=True)
        data[0]
        try:
            data[1]
        except RuntimeError as e:
            print("ERROR", e)
        """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"ERROR test video {base / 'videos' / 'val_001.avi'} cannot be decoded: truncated:" in r.stdout
    assert "val_001.avi\ttruncated" in (base / "bad_videos_test.txt").read_text()


@pytest.mark.parametrize("content", [b"", b"\x17garbage" * 300], ids=["zero-byte", "random-bytes"])
def test_empty_or_garbage_video_is_skipped_in_training_and_named_in_testing(tmp_path, content):
    base = _clips(tmp_path)
    (base / "videos" / "broken.avi").write_bytes(content)
    lines = ["train_000.avi 0", "train_001.avi 1", "train_002.avi 0", "broken.avi 1"]
    data = _dataset(base, lines)
    assert data[3]["imgs"][0].shape[:2] == (32, 32)
    assert f"{base / 'videos' / 'broken.avi'}\tunreadable (" in (base / "bad_videos_train.txt").read_text()
    test = _dataset(base, lines, test_mode=True)
    with pytest.raises(RuntimeError, match=r"test video .*broken.avi cannot be decoded"):
        test[3]


@pytest.mark.parametrize("test_mode", [False, True], ids=["train", "test"])
def test_label_out_of_range_names_file_line_value_and_num_classes(tmp_path, test_mode):
    base = _clips(tmp_path)
    name = "test_list.txt" if test_mode else "train_list.txt"
    with pytest.raises(ds.AnnotationError, match=rf"{name}:3: label 7 is outside 0..1 \(num_classes=2\): "
                                                 r"'train_002.avi 7'$"):
        _dataset(base, ["train_000.avi 0", "train_001.avi 1", "train_002.avi 7"], test_mode=test_mode)
    with pytest.raises(ds.AnnotationError, match=rf"{name}:1: label -1 is outside"):
        _dataset(base, ["train_000.avi -1"], test_mode=test_mode)


def test_multi_label_lines_check_every_label(tmp_path):
    ann = tmp_path / "charades.txt"
    ann.write_text("a.mp4 0 2\nb.mp4 1 3 9\n")
    with pytest.raises(ds.AnnotationError, match=r"charades.txt:2: label 9 is outside 0..3 \(num_classes=4\)"):
        ds.read_list_file(ann, multi_class=True, num_classes=4)
    assert ds.read_list_file(ann, multi_class=True, num_classes=10) == [("a.mp4", [0, 2]), ("b.mp4", [1, 3, 9])]


def test_check_annotations_reads_every_split_of_a_resolved_config_before_training(tmp_path):
    from benchmark.runs.job import build_config
    from benchmark.smoke import runs

    base = _clips(tmp_path / "data")
    spec = runs(str(tmp_path / "data"))[0]
    cfg = build_config(spec, tmp_path / "home")
    assert cfg.train_dataloader.dataset.num_classes == cfg.test_dataloader.dataset.num_classes == 2
    ds.check_annotations(cfg)  # the generated lists are fine
    val_list = base / "smoke_val_list_videos.txt"
    val_list.write_text("val_000.avi 0\n" + "".join(f"val_{i:03d}.avi {i + 5}\n" for i in range(7)))
    with pytest.raises(ds.AnnotationError) as e:
        ds.check_annotations(cfg)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("test: 7 bad line(s): ")
    assert f"{val_list}:2: label 5 is outside 0..1 (num_classes=2)" in msg
    assert ":6: label 9 " in msg and ":7:" not in msg and msg.endswith("(and 2 more)")
    (base / "smoke_train_list_videos.txt").unlink()
    with pytest.raises(ds.AnnotationError,
                       match=r"^train: annotation file .*smoke_train_list_videos.txt does not exist \| test: "):
        ds.check_annotations(cfg)


def test_declared_size_spots_cut_files_only(tmp_path):
    base = _clips(tmp_path)
    clip = base / "videos" / "train_000.avi"
    assert declared_size(clip) == clip.stat().st_size
    size = clip.stat().st_size
    assert declared_size(_truncate(clip, 0.9)) == size
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert declared_size(tmp_path / "empty.mp4") is None


def test_truncated_test_video_is_named_before_training(tmp_path):
    """The run would stop at it when testing, hours later: check_annotations (run before training)
    names it with its size; a missing test video is left to the dataset (named and skipped)."""
    from benchmark.runs.job import build_config
    from benchmark.smoke import runs

    base = _clips(tmp_path / "data")
    cfg = build_config(runs(str(tmp_path / "data"))[0], tmp_path / "home")
    listed = [ln.split()[0] for ln in (base / "smoke_val_list_videos.txt").read_text().splitlines() if ln.strip()]
    cut = _truncate(base / "videos_val" / listed[1])
    (base / "videos_val" / listed[0]).unlink()
    with pytest.raises(ds.AnnotationError) as e:
        ds.check_annotations(cfg)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("test: 1 truncated video(s), which would stop the run when testing")
    assert f"{cut} ({cut.stat().st_size} of the " in msg and listed[0] not in msg
    train_cut = _truncate(base / "videos_train" / "train_000.avi")  # training skips a cut video: not an error here
    with pytest.raises(ds.AnnotationError) as e:
        ds.check_annotations(cfg)
    assert str(e.value) == msg and str(train_cut) not in str(e.value)
    cut.unlink()  # now only missing: the dataset's business, as before
    ds.check_annotations(cfg)
