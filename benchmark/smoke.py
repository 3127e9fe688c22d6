"""The ``smoke`` table: a tiny VidTr and a tiny compact VidTr on a few generated clips
(a square moving left or right), seconds per run, launched through the same path as the
paper's tables; registered as a generated table. The test suite runs it on a real one-node
Slurm cluster."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from vidtr.configs.data import ann_file, video_dir

from .data.video_io import write_clip
from .files import atomic_write
from .runs.spec import DATA_ROOT, RunSpec
from .runs.tables import GeneratedTable, register
from .tables.paper import Member, Row, Table

CONFIG = "benchmark/configs/smoke.py"
CLASSES = ("moving right", "moving left")
DEFAULT_DATA = "data"  # under the bench home; clips go to <data root>/smoke/
_TINY = dict(input="8x1", frames=8, views=2, res=32)  # 8 frames of 32x32, two temporal views per video
TABLE = Table("smoke", "smoke table", "smoke", len(CLASSES), ("top1", "top5", "mean_class"), (
    Row("tiny VidTr", "vidtr_s_8x8", **_TINY),
    Row("tiny C-VidTr", "cvidtr_s_8x8", **_TINY),
    Row("tiny ensemble", None, **_TINY, members=(Member("vidtr_s_8x8", 8, 32), Member("cvidtr_s_8x8", 8, 32))),
), figure="figure_smoke")


def make_clips(root, n_train: int = 12, n_test: int = 6, size: int = 32, frames: int = 16, seed: int = 0) -> Path:
    """Write ``root/smoke/videos_{train,val}/*.avi`` (MJPG, 8 fps) and their list files, in the one
    data layout (``vidtr/configs/data.py``). Deterministic; existing files are reused."""
    base = Path(root) / "smoke"
    if Path(ann_file(root, "smoke", "val")).exists():
        return base
    rng = np.random.default_rng(seed)
    lists = {}
    for split, n in (("train", n_train), ("val", n_test)):
        videos = Path(video_dir(root, "smoke", split))
        videos.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(n):
            label = i % 2
            name = f"{split}_{i:03d}.avi"
            y, side = int(rng.integers(0, size - 8)), int(rng.integers(5, 9))
            colour = rng.integers(80, 256, size=3).tolist()
            clip = np.empty((frames, size, size, 3), np.uint8)
            for t in range(frames):
                x = int((t / (frames - 1)) * (size - side))
                clip[t] = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
                x = x if label == 0 else size - side - x
                clip[t, y:y + side, x:x + side] = colour
            if not write_clip(videos / name, clip, "MJPG", 8):
                raise RuntimeError(f"smoke: could not write {videos / name}")
            lines.append(f"{name} {label}")
        lists[split] = lines
    for split, lines in lists.items():
        atomic_write(Path(ann_file(root, "smoke", split)), "\n".join(lines) + "\n")
    return base


def build_data(data_root: str, seed: int = 0) -> None:
    make_clips(data_root)


def runs(data_root: str, seed: int = 0, epochs: int = 2, epoch_delay_s: float = 0.0) -> list[RunSpec]:
    """Two tiny models and their ensemble."""
    data = {}
    for split in ("train", "test"):
        data[f"{split}_dataloader.dataset.ann_file"] = ann_file(DATA_ROOT, "smoke", split)
        data[f"{split}_dataloader.dataset.data_prefix"] = {"video": video_dir(DATA_ROOT, "smoke", split)}
    data["train_cfg.max_epochs"] = epochs
    if epoch_delay_s:
        data["custom_hooks"] = [dict(type="EpochDelayHook", seconds=epoch_delay_s)]
    compact = {"model.backbone.pool": "std_topk", "model.backbone.pool_layers": (0,), "model.backbone.pool_keep": (4,)}
    vidtr_row, compact_row, ensemble_row = TABLE.rows
    models = [RunSpec("smoke", vidtr_row.label, vidtr_row.model, CONFIG, "smoke", seed, overrides=data,
                      data_root=data_root),
              RunSpec("smoke", compact_row.label, compact_row.model, CONFIG, "smoke", seed,
                      overrides={**data, **compact}, data_root=data_root)]
    members = tuple(r.run_id for r in models)
    return models + [RunSpec("smoke", ensemble_row.label, "", "", "smoke", seed, depends_on=members, members=members,
                             data_root=data_root)]


@HOOKS.register_module()
class EpochDelayHook(Hook):
    """Sleeps after each training epoch: lets the smoke table's preemption test interrupt a
    run between checkpoints. Never used by the paper's tables."""

    def __init__(self, seconds: float = 1.0):
        self.seconds = seconds

    def after_train_epoch(self, runner) -> None:
        time.sleep(self.seconds)


GENERATED = register(GeneratedTable(TABLE, DEFAULT_DATA, build_data, runs))
