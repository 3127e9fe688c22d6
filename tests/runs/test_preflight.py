"""Looking before running: `vidtr-bench config` (resolved configs, dumped and read back) and
`vidtr-bench check-data` (every video a table needs, probed in a process pool)."""
import shutil

import numpy as np
import pytest
from mmengine.config import Config

from benchmark.cli import main
from benchmark.data.video_io import write_clip
from benchmark.runs.preflight import EXPECTED, row_runs, run_config
from benchmark.runs.spec import DATA_ROOT
from benchmark.smoke import make_clips


def test_config_prints_the_resolved_config_with_the_data_root_filled(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VIDTR_DATA_ROOT", raising=False)
    assert main(["config", "--table", "smoke", "--row", "tiny C-VidTr", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    spec = row_runs("smoke", "tiny C-VidTr")[0]
    assert out.startswith(f"# run {spec.run_id}: table smoke, row 'tiny C-VidTr'")
    # a generated table's data root: under the workdir, in the one layout
    assert f"'{tmp_path}/data/smoke/smoke_train_list_videos.txt'" in out
    assert f"'{tmp_path}/data/smoke/videos_train'" in out and DATA_ROOT not in out
    assert "pool='std_topk'" in out and f"'{tmp_path / 'runs' / spec.run_id}'" in out
    # a paper table without a data root: the placeholder, and how to fill it
    assert main(["config", "--table", "2", "--row", "VidTr-S", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"ann_file='{DATA_ROOT}/kinetics400/kinetics400_train_list_videos.txt'" in out and "--data-root" in out
    spec = row_runs("2", "VidTr-S")[0]
    assert run_config(spec, tmp_path).pretty_text in out


@pytest.mark.parametrize("table,row,dataset", [("smoke", "tiny VidTr", None), ("6", "VidTr-M", "ucf101")])
def test_config_dump_is_runnable_and_reads_back_with_config_fromfile(tmp_path, table, row, dataset):
    dump, root = tmp_path / "run_config.py", tmp_path / "videos_here"
    args = ["config", "--table", table, "--row", row, "--workdir", str(tmp_path), "--dump", str(dump),
            "--data-root", str(root)]
    assert main(args + (["--dataset", dataset] if dataset else [])) == 0
    text = dump.read_text()
    assert DATA_ROOT not in text and "checkpoint-of:" not in text  # nothing left for vidtr-bench to fill
    back = Config.fromfile(str(dump))
    spec = row_runs(table, row, dataset)[-1]
    assert back.work_dir == str(tmp_path / "runs" / spec.run_id)
    ds = dataset or "smoke"
    assert back.test_dataloader.dataset.ann_file == f"{root}/{ds}/{ds}_val_list_videos.txt"
    assert back.train_dataloader.dataset.data_prefix == {"video": f"{root}/{ds}/videos_train"}
    if dataset:  # a fine-tune: starts from the last epoch its Kinetics-400 run will save
        k400 = next(s for s in row_runs(table, row) if s.dataset == "kinetics400")
        assert back.load_from == str(tmp_path / "runs" / k400.run_id / "epoch_50.pth")
        assert f"the checkpoint run {k400.run_id} will write; launch it first" in text
        assert back.model.cls_head.num_classes == 101


def test_plain_config_and_vidtr_bench_config_read_the_same_files(tmp_path, monkeypatch):
    """One data layout: mmaction2's tools on the plain config and vidtr-bench's run of the same
    model find the same annotation files and video folders under the same data root."""
    monkeypatch.setenv("VIDTR_DATA_ROOT", str(tmp_path / "root"))
    plain = Config.fromfile("vidtr/configs/vidtr_s_8x8.py")
    dump = tmp_path / "vidtr_s.py"
    assert main(["config", "--table", "2", "--row", "VidTr-S", "--workdir", str(tmp_path), "--dump", str(dump)]) == 0
    ours = Config.fromfile(str(dump))
    for split in ("train", "val", "test"):
        a, b = plain[f"{split}_dataloader"].dataset, ours[f"{split}_dataloader"].dataset
        assert (a.ann_file, a.data_prefix) == (b.ann_file, b.data_prefix), split
    assert plain.test_dataloader.dataset.ann_file == f"{tmp_path}/root/kinetics400/kinetics400_val_list_videos.txt"


@pytest.mark.parametrize("args,message", [
    (["--table", "6", "--row", "Nope"], "table 6 has no row 'Nope'; valid rows: I3D,"),
    (["--table", "6", "--row", "VidTr-M", "--dataset", "kinetics700"],
     "row 'VidTr-M' of table 6 has no run with dataset 'kinetics700'; its runs': kinetics400, sthv2, ucf101, hmdb51"),
    (["--table", "2", "--row", "En-VidTr-S", "--dump", "x.py"], "--dump writes one config, but 2 runs"),
])
def test_config_mistakes_are_one_line(args, message):
    with pytest.raises(SystemExit) as e:
        main(["config", *args])
    text = str(e.value)
    assert text.startswith("vidtr-bench config: ") and message in text and "\n" not in text


def test_expected_counts_cover_every_dataset_the_tables_train_on():
    from benchmark.runs.tables import TABLE6_DATASETS, TABLE_DATASET

    assert set(TABLE6_DATASETS.values()) | set(TABLE_DATASET.values()) <= set(EXPECTED)
    assert EXPECTED["kinetics400"]["val"][0] == 19_800 and EXPECTED["ucf101"]["val"][0] == 3_783


def _check(root, work, capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    rc = main(["check-data", "--table", "smoke", "--data-root", str(root), "--workdir", str(work), "--workers", "2",
               "--quiet", "--list", str(bad)])
    return rc, capsys.readouterr().out, bad.read_text()


def test_check_data_names_a_missing_an_empty_a_truncated_and_a_short_video(tmp_path, capsys):
    root, work = tmp_path / "data", tmp_path / "work"
    base = make_clips(root)  # 12 train / 6 test clips of 16 frames; the smoke runs sample 8 x 1
    rc, out, listed = _check(root, work, capsys, tmp_path)
    assert rc == 0 and "every list can run" in out
    assert listed.splitlines()[1:] == []

    videos, val_list = base / "videos_val", base / "smoke_val_list_videos.txt"
    (videos / "empty.avi").write_bytes(b"")
    data = (videos / "val_000.avi").read_bytes()
    (videos / "cut.avi").write_bytes(data[: len(data) // 2])
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    assert write_clip(videos / "short.avi", frames, "MJPG", 8)
    shutil.copy(val_list, tmp_path / "val_list.orig")
    with open(val_list, "a") as f:
        f.write("gone.avi 0\nempty.avi 1\ncut.avi 0\nshort.avi 1\n")

    rc, out, listed = _check(root, work, capsys, tmp_path)
    assert rc == 1, out  # testing would stop at the empty or the truncated video
    for name, why in (("gone.avi", "missing"), ("empty.avi", "zero bytes"), ("cut.avi", "truncated"),
                      ("short.avi", "short: 4 frames, the sampling window is 8")):
        assert f"{videos / name}: {why}" in out
        assert f"smoke\tval\t{videos / name}\t{why}" in listed
    assert len(listed.splitlines()) == 1 + 4  # header + the four, nothing else
    assert "smoke val" in out and "CANNOT RUN: testing stops" in out
    row = next(ln for ln in out.splitlines() if ln.startswith("| smoke     | val "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # dataset, list, listed, expected, missing, empty, truncated, unreadable, short, window, runs, can run
    assert cells[2:] == ["10", "-", "1", "1", "1", "0", "1", "8", "2", "no"]
