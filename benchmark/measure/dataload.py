"""``vidtr-bench dataload``: how fast a row's own training and test pipelines (read from its resolved
config) turn video files into model inputs, per worker process with one thread, as mmaction2's data
loader runs them; beside it the decoder bound (every frame decoded in order) and the frames decoded
per clip; and the cores per GPU that feeding a GPU takes (:func:`cores_per_gpu`, which the cost
planner calls).

Every (video set, decoder) pair is measured in the same process, round-robin, :data:`BLOCK` clips
of each per turn, the order rotated each round: clip ``j`` of every pair is the same video (its downloaded or
re-encoded version) under the same random seed, so the frame indices and the augmentation are the
same; outputs are compared bit for bit with the default decoder's on the same files. Time is the
process's CPU time (``time.process_time``): a clip per CPU second is a clip per core, and what other
processes do to the wall clock does not enter it (the load average is recorded beside it).
A "clip" is one dataset sample: one 8-frame clip in training, a video's 30 views in testing."""
from __future__ import annotations

import os
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..files import write_output
from ..formatting import number, render_table

DEFAULT = "default"  # today's pipeline as the config states it: mmaction2's DecordInit + DecordDecode
GPUS = ("V100", "A100", "H100")
FRACTION_OF_PEAK = 0.4  # the estimate's model FLOP utilisation of a training step
TRAIN_FLOPS_PER_MAC = 2 * 3  # 2 FLOPs per multiply-add; backward = 2x forward
CSV = Path("results/performance/dataload.csv")
COLUMNS = ["row", "model", "split", "backend", "videos", "gop", "clips", "clips_per_s_per_core", "wall_clips_per_s",
           "frames_decoded_per_clip", "decoder_fps", "decoder_bound_clips_per_s", "of_decoder_bound",
           "decode_clips_per_s", "of_decode",
           "speedup_vs_default", "same_output", "fallbacks", "load_avg"] + [f"cores_per_{g}" for g in GPUS]


@dataclass
class VideoSet:
    """Videos measured together: ``paths[j]`` of every set is the same video (downloaded and
    re-encoded versions of it), so that clip ``j`` is comparable across sets."""
    name: str
    paths: list
    gop: Optional[float] = None


@dataclass
class RowPipelines:
    row: str
    model: str
    pipelines: dict  # split -> the resolved config's pipeline (list of step dicts)


BLOCK = 4  # clips in a row of one (decoder, videos) pair before the next pair's turn
READ_STEPS = ("DecordInit", "DecordInitByPath", "VideoInit", "DecordDecode")  # the reader's steps


@dataclass
class _Tally:
    cpu_s: float = 0.0
    read_cpu_s: float = 0.0  # of which in the reader's steps (open, index, decode, convert)
    wall_s: float = 0.0
    clips: int = 0
    decoded: list = field(default_factory=list)
    same: list = field(default_factory=list)
    fallbacks: int = 0


def single_thread() -> None:
    """One thread per worker, as a data loader with one process per core wants it."""
    import cv2
    import torch

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _compose(steps: list, backend: str):
    """The pipeline as mmaction2 builds it (``default``: as written), or as a dataset builds it,
    reading through ``backend`` with the steps that do less for the same output."""
    from mmaction.registry import TRANSFORMS
    from mmengine.dataset import Compose

    from ..data.decoders import with_decoder
    from ..data.transforms import lean_steps

    steps = [dict(t) for t in steps]
    if backend != DEFAULT:
        steps = lean_steps(with_decoder(steps, backend))
    return Compose([TRANSFORMS.build(t) for t in steps])


def _run(compose, path: str, seed: int) -> tuple[dict, object, object, float]:
    """The pipeline's output on ``path`` under ``seed`` (sampler and augmentation), the reader
    its init step opened, the frame indices its sampler drew (to count what was decoded) and the
    CPU seconds of the reader's steps."""
    random.seed(seed)
    np.random.seed(seed)
    data, reader, inds, read_s = dict(filename=str(path), label=0, start_index=0, modality="RGB"), None, None, 0.0
    for t in compose.transforms:
        t0 = time.process_time()
        data = t(data)
        if type(t).__name__ in READ_STEPS:
            read_s += time.process_time() - t0
        if reader is None and data.get("video_reader") is not None:
            reader = data["video_reader"]
        if inds is None and data.get("frame_inds") is not None:
            inds = np.array(data["frame_inds"])
    return data, reader, inds, read_s


def _counted(reader) -> Optional[int]:
    """The frames the reader says it decoded (the fast reader counts them; decord and torchcodec
    do not say: None)."""
    return getattr(getattr(reader, "_reader", reader), "frames_decoded", None)


def _frames_decoded(counted: Optional[int], index, frame_inds) -> Optional[int]:
    """What the reader decoded for this clip: ``counted`` where it counts; for decord and
    torchcodec, from the keyframe positions as they seek."""
    if counted is not None:
        return counted
    return index.seek_decoded(frame_inds) if index is not None else None


def _index(path: str):
    from ..data.decoders import DecodeError, PyAVReader

    try:
        return PyAVReader(path).index
    except DecodeError:
        return None


def check_videos(sets: list[VideoSet], say=print) -> list[VideoSet]:
    """Drop the videos (with their counterparts in the other sets) that the default reader cannot
    open or that are cut short, one line each."""
    import decord

    from ..data.containers import shortfall

    bad = set()
    for s in sets:
        for j, p in enumerate(s.paths):
            try:
                why = shortfall(p)
                if not why and len(decord.VideoReader(str(p), num_threads=1)) == 0:
                    why = "no frames"
            except (OSError, RuntimeError) as e:
                why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
            if why:
                say(f"dataload: skipping {p}: {why}")
                bad.add(j)
    return [VideoSet(s.name, [p for j, p in enumerate(s.paths) if j not in bad], s.gop) for s in sets]


def measure_split(steps: list, sets: list[VideoSet], backends: list[str], clips, seed: int = 0,
                  progress: bool = True, label: str = "", say=print, block: int = BLOCK) -> dict:
    """Clips ``clips`` (ids, or a count) of each (set, backend) pair, round-robin in turns of
    ``block`` clips (a data loader's worker decodes with one decoder; three FFmpeg builds taking turns
    clip by clip would measure their cache misses), the order of the pairs rotated each round;
    {(set, backend): _Tally}."""
    import hashlib

    from tqdm import tqdm

    from ..data.decoders import DecodeError

    pairs = [(s, b) for s in sets for b in backends]
    composes = {(s.name, b): _compose(steps, b) for s, b in pairs}
    tallies = {(s.name, b): _Tally() for s, b in pairs}
    indexes: dict = {}
    dead: set = set()
    n = min(len(s.paths) for s in sets)
    clips = list(range(clips) if isinstance(clips, int) else clips)
    bar = tqdm(total=len(clips) * len(pairs), disable=not progress, unit="clip", desc=label, dynamic_ncols=True)
    for r, first in enumerate(range(0, len(clips), block)):
        ids, digests, seen = clips[first:first + block], {}, []
        for s, b in pairs[r % len(pairs):] + pairs[:r % len(pairs)]:
            tally = tallies[s.name, b]
            for j in ids:
                path = str(s.paths[j % n])
                bar.update()
                if path in dead:
                    continue
                t0, w0 = time.process_time(), time.perf_counter()
                try:
                    data, reader, frame_inds, read_s = _run(composes[s.name, b], path, seed + j)
                except (DecodeError, RuntimeError, OSError, IndexError, ValueError) as e:
                    why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                    say(f"dataload: skipping {path} ({b}): {why}")
                    dead.add(path)
                    continue
                tally.cpu_s += time.process_time() - t0
                tally.read_cpu_s += read_s
                tally.wall_s += time.perf_counter() - w0
                tally.clips += 1
                tally.fallbacks += getattr(reader, "fallbacks", 0)
                if frame_inds is not None:
                    # the count, not the reader: a data loader drops each clip's reader (and its
                    # demuxed packets) before the next; readers kept alive until the end of the turn
                    # slowed the fast path by a quarter (allocations and cache misses)
                    seen.append((s.name, b, path, frame_inds, _counted(reader)))
                digests[s.name, b, j] = hashlib.sha1(np.ascontiguousarray(data["inputs"]).tobytes()).digest()
                del data, reader
        for name, b, path, frame_inds, counted in seen:  # after the timed turns: not inside anyone's time
            if counted is None and path not in indexes:
                indexes[path] = _index(path)
            tallies[name, b].decoded.append(_frames_decoded(counted, indexes.get(path), frame_inds))
        for (name, b, j), d in digests.items():  # bit for bit against the default decoder on the same files
            if b != DEFAULT and (name, DEFAULT, j) in digests:
                tallies[name, b].same.append(d == digests[name, DEFAULT, j])
    bar.close()
    return tallies


def _split_worker(job) -> dict:
    single_thread()
    import vidtr  # noqa: F401  (mmaction2 shim, VidTr's transforms registered in this process)

    return measure_split(*job, progress=False)


def _split(steps, sets, backends, clips: int, seed: int, workers: int, progress: bool, label: str, say) -> dict:
    """:func:`measure_split` in one process, or its clips shared among ``workers`` processes (one
    thread each, as a data loader's), their tallies added up."""
    if workers == 1:
        return measure_split(steps, sets, backends, clips, seed, progress, label, say)
    from multiprocessing import get_context

    say(f"{label}: {workers} worker processes")
    jobs = [(steps, sets, backends, list(range(w, clips, workers)), seed) for w in range(workers)]
    with get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_split_worker, jobs)
    total = {k: _Tally() for k in parts[0]}
    for part in parts:
        for k, t in part.items():
            a = total[k]
            a.cpu_s, a.read_cpu_s, a.wall_s = a.cpu_s + t.cpu_s, a.read_cpu_s + t.read_cpu_s, a.wall_s + t.wall_s
            a.clips, a.fallbacks = a.clips + t.clips, a.fallbacks + t.fallbacks
            a.decoded += t.decoded
            a.same += t.same
    return total


def decoder_fps(sets: list[VideoSet], backends: list[str], progress: bool = True) -> dict:
    """Frames per CPU second of each backend decoding every frame of every video in order, to RGB,
    one thread (the decoder bound); the pairs round-robin, one video at a time."""
    from tqdm import tqdm

    from ..data.decoders import resolve_backend

    out = {}
    n = min(len(s.paths) for s in sets)
    cpu = {(s.name, b): 0.0 for s in sets for b in backends}
    frames = dict.fromkeys(cpu, 0)
    bar = tqdm(total=n * len(cpu), disable=not progress, unit="video", desc="decoder bound", dynamic_ncols=True)
    for k in range(n):
        for s in sets:
            for b in backends:
                bar.update()
                name = "decord" if b == DEFAULT else resolve_backend(b)
                t0 = time.process_time()
                try:
                    frames[s.name, b] += _decode_all(str(s.paths[k]), name)
                except (RuntimeError, OSError):  # a bad video: measure_split names it
                    continue
                cpu[s.name, b] += time.process_time() - t0
    bar.close()
    for key, c in cpu.items():
        out[key] = frames[key] / c if c else float("nan")
    return out


def _decode_all(path: str, backend: str) -> int:
    """Every frame in order, as RGB arrays; how many."""
    if backend == "pyav":
        import av

        from ..data.decoders import to_rgb

        with av.open(path) as c:
            stream = c.streams.video[0]
            stream.codec_context.thread_count = 1
            return sum(1 for f in c.decode(stream) if to_rgb(f) is not None)
    if backend == "decord":
        import decord

        vr = decord.VideoReader(path, num_threads=1)
        for _ in range(len(vr)):
            vr.next().asnumpy()
        return len(vr)
    from ..data.decoders import open_reader

    reader, n = open_reader(path, backend), 0
    for start in range(0, len(reader), 32):
        n += len(reader.get_batch(list(range(start, min(len(reader), start + 32)))).asnumpy())
    return n


def load_avg() -> str:
    from ..data.reencode import load_average

    return load_average()


def measure(rows: list[RowPipelines], sets: list[VideoSet], backends: list[str], splits: list[str],
            clips: dict, seed: int = 0, workers: int = 1, progress: bool = True, say=print) -> pd.DataFrame:
    """One line per (row, split, backend, video set); see the module's docstring."""
    single_thread()
    sets = check_videos(sets, say)
    if not sets or not sets[0].paths:
        raise FileNotFoundError("no decodable video to measure")
    before = load_avg()
    fps = decoder_fps(sets, backends, progress)
    records = []
    for r in rows:
        for split in splits:
            tallies = _split(r.pipelines[split], sets, backends, clips[split], seed, workers, progress,
                             f"{r.row} {split}", say)
            now = f"{before} -> {load_avg()}"
            base = tallies.get((sets[0].name, DEFAULT))
            base_rate = base.clips / base.cpu_s if base and base.cpu_s else float("nan")
            for (set_name, b), t in tallies.items():
                s = next(x for x in sets if x.name == set_name)
                rate = t.clips / t.cpu_s if t.cpu_s else float("nan")
                decoded = [d for d in t.decoded if d is not None]
                per_clip = float(np.mean(decoded)) if decoded else float("nan")
                bound = fps[set_name, b] / per_clip if per_clip else float("nan")
                records.append(dict(
                    row=r.row, model=r.model, split=split, backend=b, videos=set_name, gop=s.gop, clips=t.clips,
                    clips_per_s_per_core=rate, wall_clips_per_s=t.clips / t.wall_s if t.wall_s else float("nan"),
                    frames_decoded_per_clip=per_clip, decoder_fps=fps[set_name, b], decoder_bound_clips_per_s=bound,
                    of_decoder_bound=rate / bound if bound else float("nan"),
                    decode_clips_per_s=t.clips / t.read_cpu_s if t.read_cpu_s else float("nan"),
                    of_decode=t.read_cpu_s / t.cpu_s if t.cpu_s else float("nan"), speedup_vs_default=rate / base_rate,
                    same_output=(float(np.mean(t.same)) if t.same else (1.0 if b == DEFAULT else float("nan"))),
                    fallbacks=t.fallbacks, load_avg=now))
                before = load_avg()
    df = pd.DataFrame.from_records(records).reindex(columns=COLUMNS)
    for g in GPUS:
        df[f"cores_per_{g}"] = [cores_per_gpu(m, g, rate).cores if sp == "train" else float("nan")
                                for m, sp, rate in zip(df["model"], df["split"], df["clips_per_s_per_core"])]
    return df


# --- cores per GPU ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CoresPerGpu:
    """Decoding cores one GPU training ``model`` needs: its training clips/s over the clips/s one
    core delivers. ``source`` says where the GPU's clips/s came from (measured, or estimated)."""
    model: str
    gpu: str
    cores: float
    gpu_clips_per_s: float
    clips_per_s_per_core: float
    source: str


def measured_gpu_clips_per_s(model: str, gpu: str, results: Path = Path("results/performance")) -> Optional[float]:
    """The best measured training clips/s of ``model`` on a GPU whose name contains ``gpu``, from
    ``vidtr-bench speed --mode train --device cuda`` outputs (``speed_train_*_cuda.csv``, the
    device named in the ``.md`` beside each); None without one."""
    import re

    best = None
    for csv in sorted(Path(results).glob("speed_train_*_cuda.csv")):
        md = csv.with_suffix(".md")
        m = re.search(r"_device ([^;]+);", md.read_text()) if md.is_file() else None
        if not m or gpu not in m.group(1):
            continue
        df = pd.read_csv(csv)
        ok = df[(df["model"] == model) & df["throughput"].notna() & df["error"].isna()]
        if len(ok):
            best = max(best or 0.0, float(ok["throughput"].max()))
    return best


def gflops_per_view(model: str, complexity: Path = Path("results/complexity")) -> float:
    """fvcore's count of one view (multiply-adds, GFLOPs as the complexity tables give them), from
    ``results/complexity`` when a table lists the model, else counted now."""
    for csv in sorted(Path(complexity).glob("table_*.csv")):
        df = pd.read_csv(csv)
        hit = df[(df["model"] == model) & df["gflops"].notna()]
        if len(hit):
            return float(hit["gflops"].iloc[0])
    from ..tables import catalogue
    from . import flops

    entry = catalogue.get(model)
    net = catalogue.build(model, 400).eval()
    return flops.count_flops(flops.ScoresOf(net), entry.view(entry.frames, entry.res)).gflops


def estimated_gpu_clips_per_s(model: str, gpu: str) -> float:
    """Training clips/s at :data:`FRACTION_OF_PEAK` of the GPU's dense bf16 peak (fp16 on V100):
    2 FLOPs per multiply-add, 3x the forward count per step."""
    from .speed import bf16_peak_tflops

    return FRACTION_OF_PEAK * bf16_peak_tflops(gpu) * 1e12 / (TRAIN_FLOPS_PER_MAC * gflops_per_view(model) * 1e9)


def read_dataload(path: Path = CSV) -> pd.DataFrame:
    """``results/performance/dataload.csv`` as written by ``vidtr-bench dataload``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} does not exist: run `vidtr-bench dataload --table 2` first")
    return pd.read_csv(path)


def clips_per_core(model: str, backend: str = "auto", path: Path = CSV) -> float:
    """A model's measured training clips/s per core from ``dataload.csv``: with ``backend``
    (``auto``: the fast path, else the default), on the best set of videos measured (the
    re-encoded ones where present: that is what prepare-videos is for)."""
    df = read_dataload(path)
    df = df[(df["model"] == model) & (df["split"] == "train")]
    if not len(df):
        raise KeyError(f"{path} has no training measurement of {model!r}; measured: "
                       f"{', '.join(sorted(read_dataload(path)['model'].dropna().unique()))}")
    if backend == "auto":
        from ..data.decoders import FAST

        backend = FAST if (df["backend"] == FAST).any() else DEFAULT
    df = df[df["backend"] == backend]
    if not len(df):
        raise KeyError(f"{path} has no {backend!r} measurement of {model!r}")
    return float(df["clips_per_s_per_core"].max())


def cores_per_gpu(model: str, gpu: str, clips_per_s_per_core: Optional[float] = None, *, backend: str = "auto",
                  results: Path = Path("results")) -> CoresPerGpu:
    """The cores per GPU that training ``model`` on ``gpu`` (V100, A100, H100, or any name
    :func:`.speed.bf16_peak_tflops` knows) needs to decode its clips: the GPU's measured training
    clips/s where ``results/performance`` has one, else the estimate at :data:`FRACTION_OF_PEAK`;
    over ``clips_per_s_per_core`` (default: :func:`clips_per_core` from ``dataload.csv``)."""
    if clips_per_s_per_core is None:
        clips_per_s_per_core = clips_per_core(model, backend, Path(results) / "performance" / "dataload.csv")
    measured = measured_gpu_clips_per_s(model, gpu, Path(results) / "performance")
    if measured is not None:
        gpu_rate, source = measured, "measured (vidtr-bench speed --mode train)"
    else:
        gpu_rate = estimated_gpu_clips_per_s(model, gpu)
        source = f"estimate: fvcore count at {FRACTION_OF_PEAK:.0%} of dense bf16 peak"
    return CoresPerGpu(model, gpu, gpu_rate / clips_per_s_per_core, gpu_rate, clips_per_s_per_core, source)


# --- the tables ------------------------------------------------------------------------------

def environment_line() -> str:
    """The CPU, and the libraries that decode and their versions."""
    from importlib.metadata import PackageNotFoundError, version

    libs = []
    for pkg in ("decord", "av", "torchcodec", "mmaction2", "opencv-python", "torch", "numpy"):
        try:
            libs.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    try:
        import av

        libs.append(f"PyAV's FFmpeg {av.ffmpeg_version_info}")
    except ImportError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {cpu} ({os.cpu_count()} cores); {', '.join(libs)}"


def markdown(df: pd.DataFrame, command: str, reencode=None, psnr: Optional[float] = None) -> str:
    shown = pd.DataFrame({
        "row": df["row"], "split": df["split"], "decoder": df["backend"], "videos": df["videos"],
        "GOP": df["gop"].map(lambda v: number(v, 0)), "clips/s per core": df["clips_per_s_per_core"].map(number),
        "vs default": df["speedup_vs_default"].map(lambda v: number(v, 2, unit="x")),
        "frames decoded / clip": df["frames_decoded_per_clip"].map(lambda v: number(v, 0)),
        "decoder fps": df["decoder_fps"].map(lambda v: number(v, 0)),
        "decoder bound clips/s": df["decoder_bound_clips_per_s"].map(number),
        "of bound": df["of_decoder_bound"].map(lambda v: number(100 * v, 0, unit="%")),
        "decoding alone clips/s": df["decode_clips_per_s"].map(number),
        "of decoding alone": df["of_decode"].map(lambda v: number(100 * v, 0, unit="%")),
        "same as default": df["same_output"].map(lambda v: number(100 * v, 0, unit="%")),
        **{f"cores/{g}": df[f"cores_per_{g}"].map(number) for g in GPUS}})
    lines = ["# Data loading: clips per core", "", f"_{environment_line()}; measured {time.strftime('%Y-%m-%d')}_",
             "", f"Command: `{command}`", "",
             "Each row's own pipeline from its resolved config, one process, one thread, CPU time; every (decoder,"
             f" videos) pair round-robin in one run, {BLOCK} clips a turn, the same videos, frame indices and "
             "augmentation (seeded alike). 'default' is today's pipeline as the config states it (mmaction2's "
             "DecordInit and DecordDecode); 'same as default' compares each clip's model input bit for bit with "
             "the default decoder's on the same files. A training clip is 8 frames; a test clip is one video's 30 "
             "views. Decoder bound: the decoder's own frames per CPU second decoding every frame in order to RGB, "
             "over the frames it decoded per clip (the fast path's own count: it skips non-reference frames no "
             "clip frame needs; decord's and torchcodec's: every frame from the keyframe, from the keyframe "
             "positions); 'of bound' is clips/s per core over it. The frames a clip decodes cost more than the "
             "average frame of an in-order decode (each clip opens the file and restarts at keyframes, the "
             "costliest frames; the fast path decodes only reference frames), so 'decoding alone' gives the "
             "clips/s of the reader's own steps (open, index, decode, convert) timed inside the same pipeline "
             "runs, and 'of decoding alone' the share of the pipeline's time they take. Cores per GPU: training "
             f"clips/s of the GPU (estimate: fvcore count at {FRACTION_OF_PEAK:.0%} of the dense bf16 peak, 3x "
             "forward, unless results/performance has a measured one) over clips/s per core.",
             "", render_table(shown, "md"), "", "Load average (1, 5, 15 min) before -> after each split: "
             + "; ".join(f"{r} {s}: {la}" for (r, s), la in df.groupby(["row", "split"], sort=False)["load_avg"]
                         .first().items()), ""]
    if reencode is not None:
        lines += [reencode.line() + (f"; PSNR against the downloaded video {psnr:.1f} dB" if psnr else "") + ".", ""]
    return "\n".join(lines)


def write(df: pd.DataFrame, out: Path, command: str, reencode=None, psnr: Optional[float] = None) -> list[Path]:
    out = Path(out)
    return [write_output(out / "dataload.csv", df.to_csv(index=False)),
            write_output(out / "dataload.md", markdown(df, command, reencode, psnr))]


def targets(df: pd.DataFrame) -> list[str]:
    """The issue's targets as lines, from the measurements (printed, never asserted)."""
    lines = []
    for (row, split), g in df.groupby(["row", "split"], sort=False):
        fast = g[g["backend"] != DEFAULT]
        if not len(fast):
            continue
        best = fast.loc[fast["speedup_vs_default"].idxmax()]
        lines.append(f"{row} {split}: best {best['backend']} (videos: {best['videos']}): "
                     f"{best['clips_per_s_per_core']:.1f} clips/s per core, {best['speedup_vs_default']:.2f}x the "
                     f"default on {g['videos'].iloc[0]} videos (target >= 2x), same output as default "
                     f"{100 * best['same_output']:.0f}%")
        short = fast[fast["gop"].fillna(1e9) <= 32]
        for r in short.itertuples():
            why = ("; it decodes reference frames only, dearer than the bound's average frame "
                   "(docs/data-loading.md)" if r.backend == "pyav" else "")
            lines.append(f"  {r.backend} on {r.videos} (GOP {r.gop:.0f}): {100 * r.of_decoder_bound:.0f}% of the "
                         f"decoder bound (target >= 85%); decoding takes {100 * r.of_decode:.0f}% of its time{why}")
    return lines


# --- the command --------------------------------------------------------------------------------

def table_pipelines(specs: list, table: str) -> list:
    """Each selected row's model and its resolved config's train and test pipelines (ensembles
    are left out: their members are rows of their own)."""
    from ..runs.config import load_config

    rows, seen = [], set()
    for spec in specs:
        if not spec.model or spec.row in seen:
            continue
        seen.add(spec.row)
        cfg = load_config(spec.config, spec.overrides, what=None)
        pipes = {split: [dict(t) for t in cfg[f"{split}_dataloader"].dataset.pipeline] for split in ("train", "test")
                 if cfg.get(f"{split}_dataloader")}
        rows.append((RowPipelines(spec.row, spec.model, pipes), cfg))
    if not rows:
        raise KeyError(f"table {table}: no selected row has a config to measure")
    return rows


def run_dataload(specs: list, *, home: Path, table: str, split: str = "both", videos: Optional[str] = None,
                 data_root: Optional[str] = None, backends: Optional[list] = None, workers: int = 1,
                 clips: Optional[int] = None, seed: int = 0, out: Path = Path("results/performance"),
                 command: str = "", progress: bool = True, say=print) -> pd.DataFrame:
    """``vidtr-bench dataload``: the rows' own pipelines on ``videos`` (a folder), on the rows'
    dataset under ``data_root``, or on the built-in Kinetics-like set (built under ``home``: long
    GOP as downloaded, short GOP as prepare-videos leaves it); today's default beside every other
    decoder that runs here; the targets and the files written said."""
    from ..data import kinetics_like as kl
    from ..data.datasets import video_prefix
    from ..data.decoders import BACKENDS, resolve_backend, unavailable
    from ..data.reencode import list_videos, psnr_db
    from ..runs.spec import DATA_ROOT

    chosen = [resolve_backend(b) for b in backends] if backends else \
        [b for b in BACKENDS if b != "decord" and unavailable(b) is None]
    chosen = [DEFAULT] + list(dict.fromkeys(chosen))
    rows = table_pipelines(specs, table)
    reencode, psnr = None, None
    if videos or data_root:
        folder = Path(videos) if videos else \
            Path(video_prefix(rows[0][1].test_dataloader.dataset,
                              lambda v: v.replace(DATA_ROOT, data_root) if isinstance(v, str) else v))
        paths = [folder / r for r in list_videos(folder)]
        if not paths:
            raise FileNotFoundError(f"no videos under {folder}")
        sets = [VideoSet(folder.name, paths, kl.keyframe_interval(paths[0]))]
    else:
        down, re_dir, reencode = kl.build(Path(home) / "data" / "kinetics_like", progress=progress)
        sets = [VideoSet(name, kl.videos(d), kl.keyframe_interval(kl.videos(d)[0]))
                for name, d in (("downloaded", down), ("reencoded", re_dir))]
        scores = [psnr_db(str(a), str(b)) for a, b in zip(sets[0].paths[:3], sets[1].paths[:3])]
        scores = [v for v in scores if v is not None]
        psnr = sum(scores) / len(scores) if scores else None
    splits = ["train", "test"] if split == "both" else [split]
    df = measure([r for r, _ in rows], sets, chosen, splits, {"train": clips or 96, "test": clips or 16}, seed=seed,
                 workers=workers, progress=progress)
    for line in targets(df):
        say(line)
    if reencode is not None:
        say(reencode.line())
    for p in write(df, Path(out), command, reencode, psnr):
        say(f"wrote {p}")
    return df
