"""``vidtr-bench prepare-videos``: re-encode a video dataset for training, as mmaction2's
``tools/data/resize_videos.py --dense`` does (libx264, short side scaled to 256, ``-g 16``: a
keyframe every 16 frames, no audio), with what that script leaves out: FFmpeg's exit status and
every frame kept (``-fps_mode passthrough``), each output's frame count checked against its
source's (as decord, the training reader, counts them), outputs written whole or not at all, a
rerun that skips what is done, and the cost measured (CPU seconds of each encode).

Why not call ``resize_videos`` itself: it reads a module-global ``args`` from its own command line
and starts FFmpeg with ``os.popen`` without waiting for it or reading its status, so a failed encode
is reported done, its CPU time cannot be measured, and a path with a space breaks the command.

Beyond mmaction2's recipe, B-frames are not used as references (x264's ``b-pyramid=none``): the
fast decoder then skips every B-frame no clip frame needs (:func:`ffmpeg_command`).

Quality and size: x264 at CRF 23 (FFmpeg's default, as mmaction2) re-compresses, so pixels change
(the PSNR against the source is reported by :func:`psnr_db`); a 16-frame GOP has more keyframes than
a downloaded video's (~250), so files grow (measured on the built-in set: docs/data-loading.md)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
# Kinetics-400's training videos (~240k, the paper's Sec. 4.1) and VidTr's 50 epochs (Sec. 3.3):
# what one re-encode is amortised over
K400_TRAIN_VIDEOS = 240_000
EPOCHS = 50


def need_ffmpeg() -> str:
    """The ``ffmpeg`` program, or a one-line error saying how to get it."""
    path = shutil.which("ffmpeg")
    if not path:
        raise FileNotFoundError("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    return path


@dataclass
class Reencoded:
    """One video's re-encode: paths, CPU seconds of FFmpeg, frame counts and sizes; ``error``
    says why it failed ('' when it did not)."""
    src: str
    dst: str
    cpu_s: float = 0.0
    frames_src: int = 0
    frames_dst: int = 0
    bytes_src: int = 0
    bytes_dst: int = 0
    skipped: bool = False  # already done by an earlier run (its frame count checked again)
    error: str = ""


def ffmpeg_command(src: str, dst: str, short_side: int = 256, gop: int = 16, crf: int = 23,
                   preset: str = "medium", fmt: str = "mp4", b_pyramid: bool = False) -> list[str]:
    """mmaction2's recipe (short side ``short_side``, even long side, libx264, ``-g gop``, no
    audio) plus: every frame and timestamp kept, one encoding thread (a worker per core), 4:2:0
    (what players and the exact fast decoder read), the index at the front of an MP4, and (unless
    ``b_pyramid``) no B-frame pyramid: every B-frame is then a non-reference frame, which the fast
    decoder skips when no clip frame needs it (VidTr-S's clips on the built-in set: 23 frames decoded
    instead of 34, 1.3x faster, files 1.4% larger)."""
    scale = (f"scale=w='if(gte(iw,ih),-2,{short_side})':h='if(gte(iw,ih),{short_side},-2)'")
    cmd = [need_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src, "-map", "0:v:0",
           "-vf", scale, "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
           "-g", str(gop), *([] if b_pyramid else ["-x264-params", "b-pyramid=none"]), "-pix_fmt", "yuv420p",
           "-threads", "1", "-an", "-f", fmt]
    return cmd + (["-movflags", "+faststart"] if fmt == "mp4" else []) + [dst]


def frame_count(path: str) -> int:
    """Frames as the training reader (decord) counts them."""
    import decord

    return len(decord.VideoReader(str(path), num_threads=1))


def _run_timed(cmd: list[str]) -> tuple[int, float, str]:
    """(exit status, CPU seconds of the child, its last error line)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = next((ln for ln in reversed(err.strip().splitlines()) if ln.strip()), "")
    return proc.returncode, usage.ru_utime + usage.ru_stime, last


def reencode_video(src: str, dst: str, short_side: int = 256, gop: int = 16, crf: int = 23,
                   preset: str = "medium", b_pyramid: bool = False) -> Reencoded:
    """Re-encode one video into ``dst`` (written under a temporary name, renamed when complete and
    its frame count matches its source's); an existing ``dst`` is checked, not redone."""
    r = Reencoded(src, dst)
    try:
        r.bytes_src, r.frames_src = os.path.getsize(src), frame_count(src)
    except (OSError, RuntimeError) as e:  # decord raises its DECORDError, a RuntimeError
        r.error = f"source unreadable ({str(e).splitlines()[0][:160]})"
        return r
    if os.path.exists(dst):
        r.skipped = True
    else:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        tmp = str(Path(dst).with_name(f".{Path(dst).name}.{os.getpid()}.part"))
        fmt = "mp4" if Path(dst).suffix.lower() in (".mp4", ".m4v", ".mov") else "matroska"
        try:
            status, r.cpu_s, last = _run_timed(ffmpeg_command(src, tmp, short_side, gop, crf, preset, fmt, b_pyramid))
            if status != 0:
                r.error = f"ffmpeg exited {status}: {last}"
                return r
            frames = frame_count(tmp)
            if frames != r.frames_src:
                r.error = f"re-encoded video has {frames} frames, its source {r.frames_src}"
                return r
            os.replace(tmp, dst)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    try:
        r.bytes_dst, r.frames_dst = os.path.getsize(dst), frame_count(dst)
    except (OSError, RuntimeError) as e:
        r.error = f"output unreadable ({str(e).splitlines()[0][:160]})"
        return r
    if r.frames_dst != r.frames_src:
        r.error = f"re-encoded video has {r.frames_dst} frames, its source {r.frames_src}"
    return r


def psnr_db(src: str, dst: str) -> Optional[float]:
    """Mean PSNR (dB, all planes) of ``dst`` against ``src`` scaled to ``dst``'s size, by FFmpeg's
    psnr filter; None when FFmpeg cannot compare them."""
    lavfi = "[0:v][1:v]scale2ref=flags=bicubic[ref][main];[main][ref]psnr"
    cmd = [need_ffmpeg(), "-hide_banner", "-nostdin", "-i", src, "-i", dst, "-lavfi", lavfi, "-f", "null", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True).stderr
    m = re.search(r"average:([0-9.]+|inf)", out)
    return float(m.group(1)) if m else None


def list_videos(src_dir: Path) -> list[Path]:
    """Every video file under ``src_dir`` (by suffix), sorted, relative to it."""
    if not src_dir.is_dir():
        raise FileNotFoundError(f"video folder {src_dir} does not exist")
    return sorted(p.relative_to(src_dir) for p in src_dir.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES
                  and p.is_file() and not p.name.startswith("."))


def _one(job) -> Reencoded:
    return reencode_video(*job)


def prepare_videos(src_dir, dst_dir, *, short_side: int = 256, gop: int = 16, crf: int = 23, preset: str = "medium",
                   b_pyramid: bool = False, workers: int = 1, progress: bool = True) -> list[Reencoded]:
    """Re-encode every video under ``src_dir`` into the same relative path under ``dst_dir`` (names
    kept, so list files stay valid; a name not ending in .mp4/.m4v/.mov is written as Matroska, which
    FFmpeg and decord recognise by content), ``workers`` at a time; a report per video."""
    from multiprocessing import get_context

    from tqdm import tqdm

    src_dir, dst_dir = Path(src_dir).resolve(), Path(dst_dir).resolve()
    if dst_dir == src_dir or src_dir in dst_dir.parents:
        raise ValueError(f"output folder {dst_dir} is inside the source folder {src_dir}")
    need_ffmpeg()
    rels = list_videos(src_dir)
    if not rels:
        raise FileNotFoundError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {src_dir}")
    jobs = [(str(src_dir / r), str(dst_dir / r), short_side, gop, crf, preset, b_pyramid) for r in rels]
    bar = tqdm(total=len(jobs), disable=not progress, unit="video", desc="prepare-videos", dynamic_ncols=True)
    out = []
    if workers == 1:
        for job in jobs:
            out.append(_one(job))
            bar.update()
    else:
        with get_context("spawn").Pool(workers) as pool:
            for r in pool.imap(_one, jobs):
                out.append(r)
                bar.update()
    bar.close()
    return out


@dataclass
class Cost:
    """What a set of re-encodes cost: CPU seconds per video, and per epoch of Kinetics-400 when the
    re-encode is amortised over VidTr's 50 epochs."""
    videos: int
    cpu_s_per_video: float
    bytes_ratio: float
    cpu_h_per_k400: float
    cpu_s_per_k400_epoch: float
    load_avg: str = ""

    def line(self) -> str:
        return (f"re-encoding: {self.cpu_s_per_video:.2f} CPU s per video ({self.videos} videos, load average "
                f"{self.load_avg}); Kinetics-400 ({K400_TRAIN_VIDEOS:,} training videos): {self.cpu_h_per_k400:.0f} "
                f"CPU h once, {self.cpu_s_per_k400_epoch / 3600:.1f} CPU h per epoch over {EPOCHS} epochs; "
                f"size x{self.bytes_ratio:.2f}")


def cost(reports: list[Reencoded]) -> Cost:
    done = [r for r in reports if not r.error and not r.skipped]
    if not done:
        raise ValueError("no video was re-encoded in this run, so its cost is unknown")
    per_video = sum(r.cpu_s for r in done) / len(done)
    ratio = sum(r.bytes_dst for r in done) / max(1, sum(r.bytes_src for r in done))
    return Cost(len(done), per_video, ratio, per_video * K400_TRAIN_VIDEOS / 3600,
                per_video * K400_TRAIN_VIDEOS / EPOCHS, load_average())


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as ``/proc/loadavg`` gives them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "-"


def summary(reports: list[Reencoded], examples: int = 5) -> str:
    """A few lines: how many were re-encoded, skipped, failed (named), sizes, the cost."""
    bad = [r for r in reports if r.error]
    done = [r for r in reports if not r.error]
    lines = [f"prepare-videos: {len(done)} of {len(reports)} videos ready ({sum(r.skipped for r in done)} "
             f"already done), frame counts match their sources'"]
    if done:
        before, after = sum(r.bytes_src for r in done) / 1e6, sum(r.bytes_dst for r in done) / 1e6
        lines.append(f"size: {before:.1f} MB -> {after:.1f} MB")
    if any(not r.skipped for r in done):
        lines.append(cost(reports).line())
    for r in bad[:examples]:
        lines.append(f"failed: {r.src}: {r.error}")
    if len(bad) > examples:
        lines.append(f"... and {len(bad) - examples} more failed")
    return "\n".join(lines)


def write_report(reports: list[Reencoded], path: Path) -> Path:
    """Every video's report as JSON lines (what failed, why; CPU seconds; sizes)."""
    from ..files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(json.dumps(asdict(r)) + "\n" for r in reports))
    return path
