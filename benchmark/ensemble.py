"""Ensembles (Table 2 En-VidTr, A.2, A.3): average the saved per-video softmax scores of
finished runs and record the result like any run."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .job import RECORD, SCORES, atomic_write, code_version, library_versions, read_record
from .metrics import metrics_from_scores
from .runs import RunSpec, run_dir


def load_scores(record: dict) -> dict:
    path = Path(record["scores_file"])
    if not path.exists():
        raise FileNotFoundError(f"run {record['run_id']}: scores file {path} is missing")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def average_scores(members: list[dict]) -> dict:
    """Mean of the members' scores, after checking they scored the same videos in the same order."""
    first = members[0]
    for m in members[1:]:
        if m["scores"].shape != first["scores"].shape or not np.array_equal(m["videos"], first["videos"]):
            raise ValueError("ensemble members scored different videos (or in a different order); "
                             "they must be tested on the same list")
        if not np.array_equal(m["labels"], first["labels"]):
            raise ValueError("ensemble members disagree on the labels of the same videos")
    return dict(scores=np.mean([m["scores"] for m in members], axis=0), labels=first["labels"],
                videos=first["videos"])


def ensemble_record(spec: RunSpec, home: Path) -> dict:
    records = []
    for run_id in spec.members:
        rec = read_record(home, run_id)
        if rec is None:
            raise FileNotFoundError(f"ensemble {spec.run_id}: member run {run_id} has not finished")
        records.append(rec)
    avg = average_scores([load_scores(r) for r in records])
    wd = run_dir(home, spec)
    np.savez_compressed(wd / SCORES, **avg)
    record = dict(
        run_id=spec.run_id, table=spec.table, row=spec.row, model=" + ".join(r["model"] for r in records),
        dataset=spec.dataset, protocol=spec.protocol, seed=spec.seed, spec=spec.to_dict(),
        metrics=metrics_from_scores(avg["scores"], avg["labels"], multi_label=avg["labels"].ndim == 2),
        members={r["run_id"]: r["metrics"] for r in records}, num_test_videos=int(len(avg["labels"])),
        scores_file=str(wd / SCORES), code_version=code_version(), versions=library_versions(),
        config_hash="+".join(r["config_hash"] for r in records), device="(scores only)", wall_time_s=0.0,
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    atomic_write(wd / RECORD, json.dumps(record, indent=1))
    return record
