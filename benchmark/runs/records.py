"""Records: the contract between a run and the reports. One JSON file per finished run (plus
its scores file), written atomically and never overwritten, carrying its provenance (code and
library versions, device); and whether the run's definition changed since it ran. Reports read
records, never logs."""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, TypedDict

from ..files import atomic_write
from ..provenance import code_version, environment
from .identity import recipe_digest
from .spec import CHECKPOINT_OF, RunSpec, run_dir

RECORD = "record.json"
SCORES = "scores.npz"
# the record's fields that name files of its run: stored relative to the run's directory and
# resolved on read, so a work directory moved with `mv` stays valid
PATH_FIELDS = ("scores_file", "checkpoint", "resumed_from")


class _RecordOptional(TypedDict, total=False):
    bad_videos: dict  # split -> videos skipped as unreadable
    checkpoint: Optional[str]  # the run's final checkpoint (fine-tuning starts from it)
    resumed_from: Optional[str]  # the checkpoint an interrupted attempt resumed from
    scores_sha256: str  # of the scores file when the record was written: a changed file makes it stale
    scores_bytes: int
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
    recipe_digest: str  # what the run computed (runs/identity.py; its run id is named after it)
    code_version: str
    versions: dict
    device: str
    wall_time_s: float
    finished_at: str


def make_record(spec: RunSpec, home: Path, *, metrics: dict, num_test_videos: int, config_hash: str,
                recipe_digest: str, wall_time_s: float, model: Optional[str] = None,
                device: Optional[str] = None, **extra) -> Record:
    """The one way a record is built (runs and ensembles alike): the spec's identity, the
    results, and this process's provenance. Every metric must be a finite number: a record is
    written only for a model that trained and tested with finite numbers."""
    env = environment()
    unknown = set(extra) - set(_RecordOptional.__annotations__)
    if unknown:
        raise TypeError(f"record fields {sorted(unknown)} are not part of Record")
    bad = {k: v for k, v in metrics.items() if not _finite_number(v)}
    if bad:
        raise ValueError(f"run {spec.run_id}: metrics {bad} are not finite numbers: no record is written")
    wd = run_dir(home, spec)
    scores = wd / SCORES
    for key in ("checkpoint", "resumed_from"):  # relative to the run's directory where inside it
        if extra.get(key):
            extra[key] = _relative(extra[key], wd)
    return Record(run_id=spec.run_id, table=spec.table, row=spec.row, model=spec.model if model is None else model,
                  dataset=spec.dataset, protocol=spec.protocol, seed=spec.seed, spec=spec.to_dict(), metrics=metrics,
                  num_test_videos=num_test_videos, scores_file=SCORES, scores_sha256=file_sha256(scores),
                  scores_bytes=scores.stat().st_size,
                  config_hash=config_hash, recipe_digest=recipe_digest, code_version=code_version(),
                  versions=env["versions"], device=env["device"] if device is None else device,
                  wall_time_s=round(wall_time_s, 2), finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"), **extra)


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _relative(path: str, wd: Path) -> str:
    p = Path(path)
    try:
        return str(p.relative_to(wd)) if p.is_absolute() else path
    except ValueError:  # outside the run's directory (a local checkpoint given as load_from): as it is
        return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_record(data: dict) -> None:
    """What a report needs of a record, checked when it is read: a hand-edited or damaged record
    is named and set aside instead of failing a whole table's status or report."""
    if not isinstance(data.get("metrics"), dict):
        raise ValueError(f"'metrics' is a {type(data.get('metrics')).__name__}, expected a mapping of metric -> "
                         "number")
    bad = {k: v for k, v in data["metrics"].items() if not _finite_number(v)}
    if bad:
        raise ValueError(f"metrics {bad} are not finite numbers")
    for key in ("run_id", "scores_file"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"'{key}' is {data.get(key)!r}, expected a string")
    n = data.get("num_test_videos", 0)
    if type(n) is not int or n < 0:
        raise ValueError(f"'num_test_videos' is {n!r}, expected a whole number >= 0")


def read_json_object(path: Path, what: str, required: tuple = (), check=None) -> Optional[dict]:
    """A JSON object written by us; a corrupt or truncated one (or one without the
    ``required`` keys, or one ``check`` refuses with a ValueError) is named, moved aside as
    ``<name>.corrupt-<time>`` and read as missing, so it never blocks a table."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        if check is not None:
            check(data)
        return data
    except (ValueError, UnicodeDecodeError) as e:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        print(f"warning: {what} {path} is corrupt ({str(e)[:160]}); moved it to {aside.name}", file=sys.stderr)
        return None


def write_record(home: Path, record: Record) -> Record:
    """Write the record atomically; returns it as :func:`read_record` gives it (paths resolved)."""
    wd = run_dir(home, record["run_id"])
    atomic_write(wd / RECORD, json.dumps(record, indent=1))
    return _resolved(record, wd)


def read_record(home: Path, spec_or_id) -> Optional[Record]:
    """The run's record, its file paths resolved against the run's directory (``mv`` of a work
    directory keeps records valid; a record written with absolute paths that no longer exist is
    read through the run's own directory); or None: not finished, or its record was corrupt
    (moved aside, named; launching the table again tests the run again from its last checkpoint).
    A run adopted from an earlier version (``runs/<id>`` links to its old directory) reads under
    its current id, the old one kept as ``adopted_from``."""
    wd = run_dir(home, spec_or_id)
    def check(record: dict) -> None:
        _check_record(record)
        if not wd.is_symlink() and record["run_id"] != wd.name:  # copied from another run's directory
            raise ValueError(f"it is the record of run {record['run_id']}, not of run {wd.name}")

    data = read_json_object(wd / RECORD, "record", required=("run_id", "metrics"), check=check)
    if data is None:
        return None
    if wd.is_symlink() and data["run_id"] != wd.name:
        data = dict(data, adopted_from=data["run_id"], run_id=wd.name)
    return _resolved(data, wd)


def _resolved(record: dict, wd: Path) -> dict:
    out = dict(record)
    for key in PATH_FIELDS:
        value = out.get(key)
        if not value:
            continue
        p = Path(value)
        if not p.is_absolute():
            out[key] = str(wd / p)
        elif (wd / p.name).exists():  # an older record's absolute path: the run's own file, wherever it is now
            out[key] = str(wd / p.name)
    return out


def scores_changed(record: dict) -> str:
    """Why a record no longer matches its scores file ('' when it does): the file is gone, or its
    bytes changed since the record was written (another tool wrote over it)."""
    path = Path(record["scores_file"])
    if not path.exists():
        return f"its scores file {path} is missing"
    if "scores_sha256" not in record:  # written before records held the digest
        return ""
    if path.stat().st_size != record.get("scores_bytes") or file_sha256(path) != record["scores_sha256"]:
        return f"its scores file {path} changed after the record was written"
    return ""


def stale_reason(spec: RunSpec, record: Record) -> str:
    """Why a finished run's record is not current ('' when it is): its scores file no longer
    matches the record, or what the run computed is not what the spec computes now (a record
    written under an id whose recipe changed meaning: the recipe's definition was revised).
    Records of earlier versions (no ``recipe_digest``) were compared when they were adopted."""
    changed = scores_changed(record)
    if changed:
        return changed + " (--force tests it again)"
    if not record.get("recipe_digest"):
        return ""
    try:
        if record["recipe_digest"] == recipe_digest(spec):
            return ""
    except Exception:  # noqa: BLE001 - renamed, deleted or broken config: what the run was is no longer on disk
        pass
    return "what it computed is not what its row computes now, or its config is unreadable (--force reruns)"


# --- runs of an earlier version ----------------------------------------------------------

def adopt_finished(home: Path, specs: list, say: Callable = print) -> dict:
    """Finished runs of an earlier version of the harness (ids from config paths) that compute what
    one of ``specs`` computes: each is linked under the run's current id (``runs/<new id>`` -> the
    old directory; nothing is moved or copied), so ``status``, ``report`` and ``launch`` find it
    and it is not trained again. A run whose config changed since it ran computes something else
    and is left as it is. Returns old id -> new id of what was adopted now."""
    runs = Path(home) / "runs"
    wanted = {s.run_id: s for s in specs if not (run_dir(home, s) / RECORD).exists() and not run_dir(home, s).exists()}
    if not wanted or not runs.is_dir():
        return {}
    linked = {os.readlink(p) for p in runs.iterdir() if p.is_symlink()}
    old = {}
    for d in sorted(runs.iterdir()):
        if d.is_symlink() or d.name in linked or not (d / RECORD).is_file():
            continue
        try:
            data = json.loads((d / RECORD).read_text())
            old[d.name] = RunSpec.from_dict(data["spec"])
        except (ValueError, KeyError, TypeError):  # a damaged record: status names it when asked
            continue
    # ensembles and fine-tunes name other runs by their old ids: map those first, then rename
    adopted, renamed = {}, {}
    for _ in range(3):  # members, then their ensembles (and K400 runs, then their fine-tunes)
        for old_id, spec in list(old.items()):
            spec = _renamed(spec, renamed)
            try:
                new_id = spec.run_id
            except Exception:  # noqa: BLE001 - its config is gone or broken: nothing to compare with
                continue
            if (old_id, new_id) in adopted.items() or new_id == old_id:
                continue
            renamed[old_id] = new_id
            if new_id in wanted and not run_dir(home, new_id).exists():
                os.symlink(old_id, run_dir(home, new_id))
                adopted[old_id] = new_id
                say(f"adopted finished run {old_id} as {new_id} (the same model and recipe; "
                    f"runs/{new_id} links to it)")
    return adopted


def _renamed(spec, renamed: dict):
    """``spec`` with the old run ids it names (members, ``checkpoint-of:``) replaced by new ones."""
    def fix(v):
        if isinstance(v, str) and v.startswith(CHECKPOINT_OF):
            return CHECKPOINT_OF + renamed.get(v[len(CHECKPOINT_OF):], v[len(CHECKPOINT_OF):])
        return v

    return replace(spec, overrides={k: fix(v) for k, v in spec.overrides.items()},
                   members=tuple(renamed.get(m, m) for m in spec.members),
                   depends_on=tuple(renamed.get(d, d) for d in spec.depends_on))
