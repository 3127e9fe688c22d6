"""Ensembles (Table 2 En-VidTr, A.2, A.3): average the saved per-video softmax scores of
finished runs and record the result like any run, scored by the same function as its members
(:func:`.metrics.metrics_from_scores`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import metrics
from .identity import recipe_digest
from .records import SCORES, Record, make_record, read_record, write_record
from .spec import RunSpec, run_dir


def record_scores(record: dict) -> dict:
    """A record's scores file as arrays (scores, labels, videos)."""
    path = Path(record["scores_file"])
    if not path.exists():
        raise FileNotFoundError(f"run {record['run_id']}: scores file {path} is missing")
    return metrics.load_scores(path)


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


def ensemble_record(spec: RunSpec, home: Path) -> Record:
    records = []
    for run_id in spec.members:
        rec = read_record(home, run_id)
        if rec is None:
            raise FileNotFoundError(f"ensemble {spec.run_id}: member run {run_id} has not finished")
        records.append(rec)
    avg = average_scores([record_scores(r) for r in records])
    scores_file = run_dir(home, spec) / SCORES
    np.savez_compressed(scores_file, **avg)
    record = make_record(
        spec, home, model=" + ".join(r["model"] for r in records), device="(scores only)",
        metrics=metrics.scores_file_metrics(scores_file),  # from the file, as a single run's
        num_test_videos=int(len(avg["labels"])), config_hash="+".join(r["config_hash"] for r in records),
        recipe_digest=recipe_digest(spec), wall_time_s=0.0,
        members={r["run_id"]: r["metrics"] for r in records})
    return write_record(home, record)
