"""Annotation builders: the official annotation files of Kinetics, Something-Something V2,
Charades, UCF-101 and HMDB-51 -> mmaction2 list files (``path label[ label ...]``), written
atomically, with the file and line named when a line does not parse.

Write each list where every tool reads it, the one layout of ``vidtr/configs/data.py``
(``<root>/<dataset>/<dataset>_<split>_list_videos.txt``, paths relative to
``<root>/<dataset>/videos_<split>/``)::

    from vidtr.configs.data import ann_file
    kinetics_list("kinetics400/annotations/train.csv", ann_file("/data", "kinetics400", "train"))
    kinetics_list("kinetics400/annotations/val.csv", ann_file("/data", "kinetics400", "val"))
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Optional

from ..files import atomic_write
from .datasets import AnnotationError


def _write_list(out: Path, lines: list[str]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, "\n".join(lines) + "\n")
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
