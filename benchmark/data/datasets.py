"""Datasets of the paper's tables: where their files live under one data root, how their
annotation lists are read and checked, and a video dataset that reports bad videos instead of
crashing on the first or hiding them (the builders of the lists: :mod:`.annotations`).

Layout under the data root (``--data-root`` or ``$VIDTR_DATA_ROOT``): one, mmaction2's Kinetics
layout for every dataset, defined in ``vidtr/configs/data.py`` (``ann_file``, ``video_dir``) and
read by the plain configs and by every run alike::

    <root>/<dataset>/<dataset>_{train,val}_list_videos.txt   mmaction2 list files ("path label[ label...]")
    <root>/<dataset>/videos_{train,val}/...                  the videos, paths as the lists name them
    <root>/<dataset>/classes.txt                             one class name per line, in label order
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.logging import print_log

from .containers import shortfall
from .decoders import BadVideo, _by_path, with_decoder
from .transforms import lean_steps

DATA_ROOT_ENV = "VIDTR_DATA_ROOT"


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's recipe, beyond its files (how runs use it: ``benchmark.runs.dataset_overrides``)."""
    name: str
    num_classes: int
    multi_class: bool = False  # Charades: several labels per video, mAP
    # "dense": clip_len x rate windows; "tsn": the whole video cut into clip_len segments, one
    # frame from each (random in training, the centre in testing), in training and testing alike
    sampler: str = "dense"
    flip: bool = True  # random horizontal flip in training; off where classes name left and right
    finetune_epochs: Optional[int] = None  # fine-tuned from Kinetics-400 for this many epochs (None: the config's)
    # many videos are shorter than the longest windows (HMDB-51 at 32x4 needs 128 frames): no
    # sampler may wrap around them (SpreadSampleFrames spreads, SampleFrames repeats the last frame)
    short_videos: bool = False


DATASET_INFO = {d.name: d for d in [
    DatasetInfo("kinetics400", 400), DatasetInfo("kinetics700", 700),
    # Table 6 / Sec. 4.3: "TSN styled dataloader"; 30-70 frames a video; left/right classes
    # ("Pushing something from left to right" / "... right to left"), so no flip
    DatasetInfo("sthv2", 174, sampler="tsn", flip=False),
    DatasetInfo("charades", 157, multi_class=True),
    # Sec. 4.3 "UCF and HMDB Results": "6 epochs of training"; UCF-101 averages 180 frames (Sec. 4.1)
    DatasetInfo("ucf101", 101, finetune_epochs=6, short_videos=True),
    DatasetInfo("hmdb51", 51, finetune_epochs=6, short_videos=True),
]}


# Videos each split of each dataset has in the paper's era (split 1 for UCF-101 and HMDB-51),
# keyed by the list file's name (<root>/<dataset>/<split>_list.txt); (count, source).
EXPECTED_VIDEOS = {
    "kinetics400": {
        # Kay et al. 2017 (arXiv:1705.06950): 306,245 clips, 50 per class validation and 100 per class
        # test, so 246,245 train as listed; YouTube deletions leave fewer to download
        "train": (246_245, "Kay et al. 2017 (as listed; fewer remain downloadable)"),
        # what the copies papers of 2020-21 trained on had left of the 20,000 listed
        "val": (19_800, "about 19.8k in the paper's era (20,000 listed, Kay et al. 2017)"),
    },
    "kinetics700": {
        # Carreira et al. 2019 (arXiv:1907.06987): about 650k clips, 50 validation and 100 test clips
        # per class, so about 545k training clips as listed; fewer remain downloadable
        "train": (545_000, "about 545k: Carreira et al. 2019's ~650k less 50 val and 100 test per class"),
        "val": (35_000, "Carreira et al. 2019: 50 per class (as listed)"),
    },
    "sthv2": {  # Goyal et al. 2017, the v2 release's train/validation JSON files
        "train": (168_913, "Something-Something V2 release"),
        "val": (24_777, "Something-Something V2 release"),
    },
    "charades": {  # Sigurdsson et al. 2016, Charades_v1_train.csv / Charades_v1_test.csv
        "train": (7_985, "Charades v1 release"),
        "val": (1_863, "Charades v1 release"),
    },
    "ucf101": {  # Soomro et al. 2012, trainlist01.txt / testlist01.txt
        "train": (9_537, "UCF-101 split 1"),
        "val": (3_783, "UCF-101 split 1"),
    },
    "hmdb51": {  # Kuehne et al. 2011, *_test_split1.txt (70 train / 30 test per class)
        "train": (3_570, "HMDB-51 split 1"),
        "val": (1_530, "HMDB-51 split 1"),
    },
}


def expected_videos(dataset: str, split: str) -> Optional[int]:
    """How many videos a split of a dataset has (``EXPECTED_VIDEOS``; "val" is the test split), or None."""
    entry = EXPECTED_VIDEOS.get(dataset, {}).get(split)
    return entry[0] if entry else None


class AnnotationError(ValueError):
    """An annotation file that does not parse, with the file and line named."""


def resolve_data_root(data_root: Optional[str] = None, must_exist: bool = True) -> Path:
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    if not root:
        raise FileNotFoundError(f"no dataset root: pass --data-root DIR or set ${DATA_ROOT_ENV}")
    path = Path(root).expanduser()
    if must_exist and path.exists() and not path.is_dir():
        raise NotADirectoryError(f"dataset root {path} is a file, not a directory (from --data-root or "
                                 f"${DATA_ROOT_ENV})")
    if must_exist and not path.is_dir():
        raise FileNotFoundError(f"dataset root {path} does not exist (from --data-root or ${DATA_ROOT_ENV})")
    return path


def get_dataset(name: str) -> DatasetInfo:
    if name not in DATASET_INFO:
        raise KeyError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASET_INFO)}")
    return DATASET_INFO[name]


def parse_list_line(line: str, multi_class: bool, where: str,
                    num_classes: Optional[int] = None) -> tuple[str, object]:
    """One mmaction2 list-file line -> (relative path, label or labels). Labels are checked
    against ``num_classes`` when given: out of range, mmaction2 trains into an IndexError hours
    in, and its metrics silently score a label the head has no output for."""
    parts = line.split()
    try:
        if multi_class:
            if len(parts) < 2:
                raise ValueError("needs a path and at least one label")
            labels = [int(p) for p in parts[1:]]
        else:
            if len(parts) != 2:
                raise ValueError(f"needs 'path label', got {len(parts)} fields")
            labels = [int(parts[1])]
        bad = [v for v in labels if num_classes is not None and not 0 <= v < num_classes]
        if bad:
            raise ValueError(f"label {bad[0]} is outside 0..{num_classes - 1} (num_classes={num_classes})")
    except ValueError as e:
        raise AnnotationError(f"{where}: {e}: {line!r}") from None
    return parts[0], labels if multi_class else labels[0]


def _first(items: list[str], n: int) -> str:
    """The first ``n`` of ``items`` joined, and how many more there are: a long list in one line."""
    return "; ".join(items[:n]) + (f" (and {len(items) - n} more)" if len(items) > n else "")


def read_list_file(ann_file, multi_class: bool, num_classes: Optional[int] = None,
                   max_errors: Optional[int] = None, unique: bool = False) -> list[tuple[str, object]]:
    """A whole list file -> [(relative path, label)], blank lines skipped. With ``max_errors``
    every bad line is collected and reported in one AnnotationError (the first ``max_errors``
    and a count), so a broken file is fixed in one go; otherwise the first bad line raises.
    ``unique`` (test and validation lists): a video listed twice, under the same label or
    another, is an error naming both lines: every test video is scored once. Training lists
    may repeat a video on purpose (to weight it)."""
    if not Path(ann_file).is_file():
        raise FileNotFoundError(f"annotation file {ann_file} does not exist")
    entries, errors, first_line = [], [], {}
    for i, line in enumerate(Path(ann_file).read_text().splitlines(), 1):
        if line.strip():
            try:
                rel, label = parse_list_line(line.strip(), multi_class, f"{ann_file}:{i}", num_classes)
                if unique and rel in first_line:
                    j, other = first_line[rel]
                    how = "again" if other == label else f"under another label ({other} at line {j}, {label} here)"
                    raise AnnotationError(f"{ann_file}:{i}: video {rel} is listed {how}: first at line {j}; "
                                          "a test list names each video once")
                first_line.setdefault(rel, (i, label))
                entries.append((rel, label))
            except AnnotationError as e:
                if max_errors is None:
                    raise
                errors.append(str(e))
    if errors:
        raise AnnotationError(f"{len(errors)} bad line(s): {_first(errors, max_errors)}")
    if not entries:
        raise AnnotationError(f"{ann_file}: no videos listed")
    return entries


def head_num_classes(cfg) -> Optional[int]:
    """The classifier head's ``num_classes`` in an mmengine config, None without one."""
    return ((cfg.get("model") or {}).get("cls_head") or {}).get("num_classes")


def run_datasets(cfg):
    """(split, leaf dataset config) for each split a resolved config runs (train when ``train_cfg``
    is set, and so on), under dataset wrappers."""
    for split in ("train", "val", "test"):
        if cfg.get(f"{split}_cfg"):
            for ds in _leaf_datasets((cfg.get(f"{split}_dataloader") or {}).get("dataset")):
                yield split, ds


def ann_path(ds, fill=lambda v: v) -> str:
    """A dataset config's annotation file, joined to its ``data_root`` as mmengine's BaseDataset
    joins them; ``fill`` rewrites each part first (a placeholder data root, say)."""
    ann = fill(ds.get("ann_file") or "")
    if ds.get("data_root") and ann and not os.path.isabs(ann):
        ann = os.path.join(fill(ds["data_root"]), ann)
    return ann


def video_prefix(ds, fill=lambda v: v) -> str:
    """A dataset config's video folder (``data_prefix['video']``), joined to its ``data_root`` as
    mmengine's BaseDataset joins prefixes (an empty one too); ``fill`` as for :func:`ann_path`."""
    prefix = fill((ds.get("data_prefix") or {}).get("video") or "")
    if ds.get("data_root") and not os.path.isabs(prefix):
        prefix = os.path.join(fill(ds["data_root"]), prefix)
    return prefix


def _leaf_datasets(ds):
    """Dataset configs under wrappers (RepeatDataset's ``dataset``, ConcatDataset's ``datasets``)."""
    if not ds:
        return
    if ds.get("dataset") is not None:
        yield from _leaf_datasets(ds["dataset"])
    for d in ds.get("datasets") or []:
        yield from _leaf_datasets(d)
    if ds.get("dataset") is None and not ds.get("datasets"):
        yield ds


def check_annotations(cfg, max_errors: int = 5) -> None:
    """Validate every list file the resolved config will load (the splits it runs: train when
    ``train_cfg`` is set, and so on) against the head's ``num_classes``, before anything trains:
    mmengine builds dataloaders lazily, so a bad test list would otherwise surface only after
    training; so would a truncated test video, so the test split's files are size-checked too.
    One AnnotationError lists the problems of all files (``file:line``, value, range; paths)."""
    num_classes, errors = head_num_classes(cfg), []
    for split, ds in run_datasets(cfg):
        kind = ds.get("type")
        if getattr(kind, "__name__", str(kind)).split(".")[-1] not in ("CheckedVideoDataset", "VideoDataset"):
            continue
        ann = ann_path(ds)
        if ds.get("num_classes") is not None and num_classes is not None and ds["num_classes"] != num_classes:
            errors.append(f"{split}_dataloader.dataset.num_classes={ds['num_classes']} but "
                          f"model.cls_head.num_classes={num_classes}")
        try:
            entries = read_list_file(ann, bool(ds.get("multi_class")), num_classes, max_errors, unique=split != "train")
        except (AnnotationError, FileNotFoundError) as e:
            errors.append(f"{split}: {e}")
            continue
        if split == "test":
            errors += _truncated_test_videos(ds, [rel for rel, _ in entries], max_errors)
    if errors:
        raise AnnotationError(" | ".join(errors))


def _truncated_test_videos(ds, rels: list[str], max_errors: int) -> list[str]:
    """A test video shorter than its container declares stops the run when testing reaches it
    (every test video must be scored), which is after the whole training: find them now, from
    each file's size and header (a stat and a 64-byte read; decoding is ``check-data``'s job)."""
    prefix = video_prefix(ds)
    cut = []
    for rel in rels:
        path = os.path.join(prefix, rel)
        try:
            short = shortfall(path)
        except OSError:  # missing or unreadable: the dataset names and skips it (check-data counts them)
            continue
        if short:
            cut.append(f"{path} ({short})")
    if not cut:
        return []
    return [f"test: {len(cut)} truncated video(s), which would stop the run when testing, after training: "
            f"{_first(cut, max_errors)}"]


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """mmaction2's VideoDataset, plus: annotation lines are checked (file and line number on
    error; labels against ``num_classes`` when given); videos are decoded by path
    (DecordInitByPath replaces DecordInit), by the fast decoder where it runs (the same frames);
    missing videos are dropped at load time and
    unreadable ones skipped in training, each reported by path in ``bad_videos_file`` and
    counted; more than ``max_bad_fraction`` of them fails the run with a clear message. The
    video being decoded is kept in ``last_video_<split>.txt`` beside ``bad_videos_<split>.txt``,
    to name it should a decoder still take the process down."""

    def __init__(self, ann_file: str, pipeline: list, *args, max_bad_fraction: float = 0.05,
                 bad_videos_file: Optional[str] = None, **kwargs):
        self.max_bad_fraction = max_bad_fraction
        self.bad_videos_file = bad_videos_file
        name = os.path.basename(bad_videos_file or "")
        self.last_video_file = (os.path.join(os.path.dirname(bad_videos_file), name.replace("bad_videos", "last_video"))
                                if "bad_videos" in name else None)
        self._last_fd = (None, None)  # (pid, fd): opened lazily in each dataloader worker
        self.bad: list[tuple[str, str]] = []
        self._listed = 0
        # the fast decoder returns decord's frames, so it is chosen here, not in the config (a run's
        # id follows its recipe): $VIDTR_DECODER, default PyAV where it imports (benchmark.data.decoders);
        # likewise the steps that give the same output with less work (benchmark.data.transforms)
        super().__init__(ann_file, lean_steps(with_decoder([_by_path(t) for t in pipeline])), *args, **kwargs)

    def _report_bad(self, path: str, why: str, check: bool = True):
        if any(p == path for p, _ in self.bad):  # counted once, however many epochs meet it
            return
        self.bad.append((path, why))
        print_log(f"bad video {path}: {why}", logger="current", level=logging.WARNING)
        if self.bad_videos_file:
            with open(self.bad_videos_file, "a") as f:
                f.write(f"{path}\t{why}\n")
        if check:
            self._check_bad_fraction()

    def _check_bad_fraction(self):
        if self._listed and len(self.bad) > self.max_bad_fraction * self._listed:
            raise RuntimeError(
                f"{len(self.bad)} of {self._listed} videos in {self.ann_file} are missing or unreadable "
                f"(over the allowed {self.max_bad_fraction:.0%}); first: {self.bad[0][0]} ({self.bad[0][1]}). "
                f"Full list: {self.bad_videos_file or 'see the log'}")

    def load_data_list(self) -> list[dict]:
        entries = read_list_file(self.ann_file, self.multi_class, self.num_classes, unique=self.test_mode)
        self._listed = len(entries)
        data_list, prefix = [], self.data_prefix.get("video") or ""
        for rel, label in entries:
            path = os.path.join(prefix, rel)
            if not os.path.isfile(path):
                self._report_bad(path, "missing", check=False)
                continue
            data_list.append(dict(filename=path, label=label))
        self._check_bad_fraction()  # after the whole list, so the message has the full count
        return data_list

    def _note_last(self, path: str):
        """Overwrite ``last_video_file`` with ``path``: one pwrite on a descriptor kept open."""
        if not self.last_video_file:
            return
        pid, fd = self._last_fd
        if pid != os.getpid():  # first call in this process (a worker does not share its parent's)
            fd = os.open(self.last_video_file, os.O_WRONLY | os.O_CREAT, 0o644)
            self._last_fd = (os.getpid(), fd)
        data = f"{path}\n".encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))

    def prepare_data(self, idx):
        info = self.get_data_info(idx)  # once: BaseDataset.prepare_data would build it again
        path = info["filename"]
        self._note_last(path)
        try:
            return self.pipeline(info)
        except Exception as e:  # decoding failed: decord/OpenCV errors have no common base class
            first = (str(e).splitlines() or [""])[0][:200]
            why = first if isinstance(e, BadVideo) else f"unreadable ({type(e).__name__}: {first})"
            self._report_bad(path, why, check=not self.test_mode)  # testing stops below, naming this one
            if self.test_mode:  # every test video must be scored: stop with the path named
                raise RuntimeError(f"test video {path} cannot be decoded: {e}") from e
            return None  # mmengine's BaseDataset draws another training sample
