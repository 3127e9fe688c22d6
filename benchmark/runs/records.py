"""Records: the contract between a run and the reports. One JSON file per finished run (plus
its scores file), written atomically and never overwritten, carrying its provenance (code and
library versions, device); and whether the run's definition changed since it ran. Reports read
records, never logs."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional, TypedDict

from ..files import atomic_write
from ..provenance import code_version, environment
from .config import load_config
from .spec import RunSpec, run_dir

RECORD = "record.json"
SCORES = "scores.npz"


class _RecordOptional(TypedDict, total=False):
    bad_videos: dict  # split -> videos skipped as unreadable
    checkpoint: Optional[str]  # the run's final checkpoint (fine-tuning starts from it)
    resumed_from: Optional[str]  # the checkpoint an interrupted attempt resumed from
    attempts: int
    world_size: int
    hosts: list  # the nodes its ranks ran on, each once, in rank order
    total_batch: Optional[int]  # clips per optimizer step (batch_size x world_size), None: no training
    members: dict  # ensembles: member run id -> its metrics


class Record(_RecordOptional):
    """What a finished run (a trained and tested model, or an ensemble of finished runs) says."""
    run_id: str
    table: str
    row: str
    model: str
    dataset: str
    protocol: str
    seed: int
    spec: dict
    metrics: dict  # name -> percent (top1, top5, mean_class, map)
    num_test_videos: int
    scores_file: str
    config_hash: str  # the resolved config as run (data paths included)
    definition_hash: str  # the config as defined, placeholders unresolved: see definition_hash()
    code_version: str
    versions: dict
    device: str
    wall_time_s: float
    finished_at: str


def make_record(spec: RunSpec, home: Path, *, metrics: dict, num_test_videos: int, config_hash: str,
                definition_hash: str, wall_time_s: float, model: Optional[str] = None,
                device: Optional[str] = None, **extra) -> Record:
    """The one way a record is built (runs and ensembles alike): the spec's identity, the
    results, and this process's provenance."""
    env = environment()
    unknown = set(extra) - set(_RecordOptional.__annotations__)
    if unknown:
        raise TypeError(f"record fields {sorted(unknown)} are not part of Record")
    return Record(run_id=spec.run_id, table=spec.table, row=spec.row, model=spec.model if model is None else model,
                  dataset=spec.dataset, protocol=spec.protocol, seed=spec.seed, spec=spec.to_dict(), metrics=metrics,
                  num_test_videos=num_test_videos, scores_file=str(run_dir(home, spec) / SCORES),
                  config_hash=config_hash, definition_hash=definition_hash, code_version=code_version(),
                  versions=env["versions"], device=env["device"] if device is None else device,
                  wall_time_s=round(wall_time_s, 2), finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"), **extra)


def read_json_object(path: Path, what: str, required: tuple = ()) -> Optional[dict]:
    """A JSON object written by us; a corrupt or truncated one (or one without the
    ``required`` keys) is named, moved aside as ``<name>.corrupt-<time>`` and read as missing,
    so it never blocks a table."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        return data
    except (ValueError, UnicodeDecodeError) as e:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        print(f"warning: {what} {path} is corrupt ({str(e)[:120]}); moved it to {aside.name}", file=sys.stderr)
        return None


def write_record(home: Path, record: Record) -> Record:
    atomic_write(run_dir(home, record["run_id"]) / RECORD, json.dumps(record, indent=1))
    return record


def read_record(home: Path, spec_or_id) -> Optional[Record]:
    """The run's record, or None: not finished, or its record was corrupt (moved aside; launching
    the table again tests the run again from its last checkpoint)."""
    return read_json_object(run_dir(home, spec_or_id) / RECORD, "record", required=("run_id", "metrics"))


def definition_hash(spec: RunSpec) -> str:
    """What the run is defined by: its config as mmengine reads it (``_base_`` files and
    mmaction2's zoo configs included) with the spec's overrides, placeholders unresolved, so
    that moving the data changes nothing and editing a config does. Ensembles: their members."""
    if not spec.config:
        return hashlib.sha256(json.dumps(list(spec.members)).encode()).hexdigest()[:16]
    cfg = load_config(spec.config, spec.overrides, what=None)
    return hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def stale(spec: RunSpec, record: Record) -> bool:
    """A finished run whose config (or overrides) changed since it started, or whose config can
    no longer be read. Records written before the definition hash existed are taken as current."""
    if not record.get("definition_hash"):
        return False
    try:
        return record["definition_hash"] != definition_hash(spec)
    except Exception:  # noqa: BLE001 - renamed, deleted or broken config: what the run was is no longer on disk
        return True
