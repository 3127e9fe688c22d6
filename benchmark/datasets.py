"""Datasets of the paper's tables: where their files live under one data root, annotation
builders that turn the official annotation files into mmaction2 list files, and a video
dataset that reports bad videos instead of crashing on the first or hiding them.

Layout under the data root (``--data-root`` or ``$VIDTR_DATA_ROOT``)::

    <root>/<dataset>/videos/...            the videos, as the official archives unpack
    <root>/<dataset>/<split>_list.txt      mmaction2 list files ("path label[ label...]")
    <root>/<dataset>/classes.txt           one class name per line, in label order
"""
from __future__ import annotations

import csv
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.logging import print_log

DATA_ROOT_ENV = "VIDTR_DATA_ROOT"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    multi_class: bool = False  # Charades: several labels per video, mAP
    sampler: str = "dense"  # "dense": clip_len x rate windows; "tsn": one frame per segment (SSv2)


DATASET_INFO = {d.name: d for d in [
    DatasetInfo("kinetics400", 400), DatasetInfo("kinetics700", 700),
    DatasetInfo("sthv2", 174, sampler="tsn"), DatasetInfo("charades", 157, multi_class=True),
    DatasetInfo("ucf101", 101), DatasetInfo("hmdb51", 51),
]}


class AnnotationError(ValueError):
    """An annotation file that does not parse, with the file and line named."""


def resolve_data_root(data_root: Optional[str] = None, must_exist: bool = True) -> Path:
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    if not root:
        raise FileNotFoundError(f"no dataset root: pass --data-root DIR or set ${DATA_ROOT_ENV}")
    path = Path(root).expanduser()
    if must_exist and not path.is_dir():
        raise FileNotFoundError(f"dataset root {path} does not exist (from --data-root or ${DATA_ROOT_ENV})")
    return path


def get_dataset(name: str) -> DatasetInfo:
    if name not in DATASET_INFO:
        raise KeyError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASET_INFO)}")
    return DATASET_INFO[name]


def parse_list_line(line: str, multi_class: bool, where: str) -> tuple[str, object]:
    """One mmaction2 list-file line -> (relative path, label or labels)."""
    parts = line.split()
    try:
        if multi_class:
            if len(parts) < 2:
                raise ValueError("needs a path and at least one label")
            return parts[0], [int(p) for p in parts[1:]]
        if len(parts) != 2:
            raise ValueError(f"needs 'path label', got {len(parts)} fields")
        return parts[0], int(parts[1])
    except ValueError as e:
        raise AnnotationError(f"{where}: {e}: {line!r}") from None


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """mmaction2's VideoDataset, plus: annotation lines are checked (file and line number on
    error); missing videos are dropped at load time and unreadable ones skipped in training,
    each reported by path in ``bad_videos_file`` and counted; more than
    ``max_bad_fraction`` of them fails the run with a clear message."""

    def __init__(self, *args, max_bad_fraction: float = 0.05, bad_videos_file: Optional[str] = None, **kwargs):
        self.max_bad_fraction = max_bad_fraction
        self.bad_videos_file = bad_videos_file
        self.bad: list[tuple[str, str]] = []
        self._listed = 0
        super().__init__(*args, **kwargs)

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
        if not Path(self.ann_file).is_file():
            raise FileNotFoundError(f"annotation file {self.ann_file} does not exist")
        lines = [(i, ln.strip()) for i, ln in enumerate(Path(self.ann_file).read_text().splitlines(), 1)]
        lines = [(i, ln) for i, ln in lines if ln]
        self._listed = len(lines)
        if not lines:
            raise AnnotationError(f"{self.ann_file}: no videos listed")
        data_list, prefix = [], self.data_prefix.get("video") or ""
        for i, line in lines:
            rel, label = parse_list_line(line, self.multi_class, f"{self.ann_file}:{i}")
            path = os.path.join(prefix, rel)
            if not os.path.isfile(path):
                self._report_bad(path, "missing", check=False)
                continue
            data_list.append(dict(filename=path, label=label))
        self._check_bad_fraction()  # after the whole list, so the message has the full count
        return data_list

    def prepare_data(self, idx):
        try:
            return super().prepare_data(idx)
        except Exception as e:  # decoding failed: decord/OpenCV errors have no common base class
            path = self.get_data_info(idx)["filename"]
            self._report_bad(path, f"unreadable ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
            if self.test_mode:  # every test video must be scored: stop with the path named
                raise RuntimeError(f"test video {path} cannot be decoded: {e}") from e
            return None  # mmengine's BaseDataset draws another training sample


# --- annotation builders: official files -> mmaction2 list files ------------------------

def _write_list(out: Path, lines: list[str]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)
    return out


def _rows(path: Path, required: tuple) -> list[tuple[int, dict]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise AnnotationError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        return list(enumerate(reader, 2))


def kinetics_list(csv_path, out_path, classes: Optional[list] = None) -> list[str]:
    """Kinetics CSV (label,youtube_id,time_start,time_end,split) -> lines
    ``<label>/<youtube_id>_<start:06d>_<end:06d>.mp4 <index>``. Classes default to the
    sorted labels of this file (the usual Kinetics index order); returns them."""
    csv_path = Path(csv_path)
    rows = _rows(csv_path, ("label", "youtube_id", "time_start", "time_end"))
    classes = classes or sorted({r["label"] for _, r in rows})
    index = {c: i for i, c in enumerate(classes)}
    lines = []
    for n, r in rows:
        if r["label"] not in index:
            raise AnnotationError(f"{csv_path}:{n}: label {r['label']!r} is not one of the {len(classes)} classes")
        try:
            start, end = int(float(r["time_start"])), int(float(r["time_end"]))
        except ValueError:
            raise AnnotationError(f"{csv_path}:{n}: time_start/time_end are not numbers: {r}") from None
        lines.append(f"{r['label'].replace(' ', '_')}/{r['youtube_id']}_{start:06d}_{end:06d}.mp4 {index[r['label']]}")
    _write_list(Path(out_path), lines)
    return classes


def sthv2_list(json_path, labels_json, out_path) -> list[str]:
    """Something-Something V2 (train/validation JSON + labels.json) -> ``<id>.webm <index>``."""
    labels = json.loads(Path(labels_json).read_text())
    classes = [k for k, _ in sorted(labels.items(), key=lambda kv: int(kv[1]))]
    lines = []
    for n, item in enumerate(json.loads(Path(json_path).read_text())):
        try:
            name = item["template"].replace("[", "").replace("]", "")
            lines.append(f"{item['id']}.webm {labels[name]}")
        except KeyError as e:
            raise AnnotationError(f"{json_path}: entry {n}: missing or unknown {e}: {item}") from None
    _write_list(Path(out_path), lines)
    return classes


def charades_list(csv_path, classes_txt, out_path) -> list[str]:
    """Charades CSV (id,...,actions) + Charades_v1_classes.txt -> ``<id>.mp4 <c> <c> ...``
    (multi-label). Videos with no action are kept with no label only if listed; skipped here."""
    classes, codes = [], {}
    for n, line in enumerate(Path(classes_txt).read_text().splitlines(), 1):
        if line.strip():
            m = re.match(r"(c\d{3})\s+(.+)", line.strip())
            if not m:
                raise AnnotationError(f"{classes_txt}:{n}: expected 'cNNN name', got {line!r}")
            codes[m.group(1)] = len(classes)
            classes.append(m.group(2))
    lines = []
    for n, r in _rows(Path(csv_path), ("id", "actions")):
        acts = [a.split()[0] for a in (r["actions"] or "").split(";") if a.strip()]
        unknown = [a for a in acts if a not in codes]
        if unknown:
            raise AnnotationError(f"{csv_path}:{n}: unknown action code(s) {unknown}")
        if acts:
            lines.append(f"{r['id']}.mp4 " + " ".join(str(codes[a]) for a in sorted(set(acts))))
    _write_list(Path(out_path), lines)
    return classes


def ucf101_list(split_txt, class_ind, out_path) -> list[str]:
    """UCF-101 trainlist0N.txt / testlist0N.txt + classInd.txt -> ``<Class>/<video>.avi <index>``
    (0-based; the label comes from the folder, so test lists without labels work)."""
    classes = []
    for n, line in enumerate(Path(class_ind).read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 2 or not parts[0].isdigit():
                raise AnnotationError(f"{class_ind}:{n}: expected 'index ClassName', got {line!r}")
            classes.append(parts[1])
    index = {c: i for i, c in enumerate(classes)}
    lines = []
    for n, line in enumerate(Path(split_txt).read_text().splitlines(), 1):
        if not line.strip():
            continue
        rel = line.split()[0]
        cls = rel.split("/")[0]
        if cls not in index:
            raise AnnotationError(f"{split_txt}:{n}: class folder {cls!r} is not in {class_ind}")
        lines.append(f"{rel} {index[cls]}")
    _write_list(Path(out_path), lines)
    return classes


def hmdb51_list(splits_dir, out_path, split: int = 1, subset: str = "train") -> list[str]:
    """HMDB-51 ``<class>_test_split<N>.txt`` files (video id; 1 train, 2 test, 0 unused) ->
    ``<class>/<video>.avi <index>`` for ``subset``."""
    files = sorted(Path(splits_dir).glob(f"*_test_split{split}.txt"))
    if not files:
        raise AnnotationError(f"{splits_dir}: no '*_test_split{split}.txt' files")
    want = {"train": "1", "test": "2"}[subset]
    classes = [f.name[: -len(f"_test_split{split}.txt")] for f in files]
    lines = []
    for i, f in enumerate(files):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise AnnotationError(f"{f}:{n}: expected 'video.avi 0|1|2', got {line!r}")
            if parts[1] == want:
                lines.append(f"{classes[i]}/{parts[0]} {i}")
    _write_list(Path(out_path), lines)
    return classes
