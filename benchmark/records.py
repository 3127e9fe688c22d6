"""Records: the contract between a run and the reports. One JSON file per finished run (plus
its scores file), written atomically and never overwritten; the provenance it carries (code
and library versions, device); whether the run's definition changed since it ran; and the
state of a run that has no record yet (the launch manifest, Slurm's queue, the process).
Reports read records, never logs."""
from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, TypedDict

from . import REPO
from .runs import RunSpec, run_dir

RECORD = "record.json"
SCORES = "scores.npz"
MANIFEST = "launch.json"  # <home>/<table>/launch.json: which executor/job runs which run
# states of a run that may still produce a record ("unknown": squeue did not answer)
IN_FLIGHT = ("pending", "running", "submitted", "unknown")


class _RecordOptional(TypedDict, total=False):
    bad_videos: dict  # split -> videos skipped as unreadable
    checkpoint: Optional[str]  # the run's final checkpoint (fine-tuning starts from it)
    resumed_from: Optional[str]  # the checkpoint an interrupted attempt resumed from
    attempts: int
    world_size: int
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


# --- files -------------------------------------------------------------------------------

def atomic_write(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one; a failed write (a full disk)
    leaves no temporary file behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_output(path: Path, text: str) -> Path:
    """Write a generated result file atomically, saying so when it replaces different content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() != text:
        print(f"replacing {path} (the previous version is in git history)")
    atomic_write(path, text)
    return path


def _read_json(path: Path, what: str, required: tuple = ()) -> Optional[dict]:
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
    return _read_json(run_dir(home, spec_or_id) / RECORD, "record", required=("run_id", "metrics"))


# --- provenance --------------------------------------------------------------------------

def code_version() -> str:
    """The repository's commit, ``-dirty`` when tracked files differ from it."""
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{rev}{'-dirty' if dirty else ''}" if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    """Library versions and the device of this process: mmaction2's ``collect_env`` (PyTorch,
    OpenCV, MMEngine, MMCV, CUDA and the GPUs), plus what it leaves out (timm, numpy, fvcore,
    the CPU's cores)."""
    from importlib.metadata import PackageNotFoundError, version

    import mmaction
    import numpy as np
    import timm
    import torch
    from mmaction.utils import collect_env

    env = collect_env()
    try:
        fvcore = version("fvcore")
    except PackageNotFoundError:
        fvcore = "-"
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "mmaction2": mmaction.__version__, "mmengine": env["MMEngine"], "mmcv": env.get("MMCV", "-"),
                "timm": timm.__version__, "numpy": np.__version__, "opencv": env.get("OpenCV", "-"),
                "fvcore": fvcore}
    gpus = [f"{len(ids.split(','))}x {name}" for key, name in env.items() if key.startswith("GPU ")
            for ids in [key[4:]]]
    device = ", ".join(gpus) if gpus else f"cpu ({platform.machine()}, {os.cpu_count()} cores)"
    return dict(versions=versions, device=device)


def versions_line(versions: Optional[dict] = None) -> str:
    """The library versions a generated table names in its header."""
    v = versions or environment()["versions"]
    return (f"torch {v['torch']}, mmaction2 {v['mmaction2']}, mmengine {v['mmengine']}, timm {v['timm']}, "
            f"fvcore {v['fvcore'].split('.post')[0]}")


# --- staleness ---------------------------------------------------------------------------

def definition_hash(spec: RunSpec) -> str:
    """What the run is defined by: its config as mmengine reads it (``_base_`` files and
    mmaction2's zoo configs included) with the spec's overrides, placeholders unresolved, so
    that moving the data changes nothing and editing a config does. Ensembles: their members."""
    if not spec.config:
        return hashlib.sha256(json.dumps(list(spec.members)).encode()).hexdigest()[:16]
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / spec.config))
    cfg.merge_from_dict(dict(spec.overrides), allow_list_keys=True)
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


# --- runs without a record: the run lock, the launch manifest, the queue, the process -----

class RunBusyError(RuntimeError):
    """A second executor of a run that another process is running."""


@contextlib.contextmanager
def run_lock(wd: Path, run_id: str):
    """Held by the one process that runs a run, for the whole run: a second executor (two
    launches of one table, a duplicate Slurm job) stops at once and says who holds it. An
    ``flock``: the kernel releases it when the holder dies (preemption, a crash), so a requeued
    job takes it again; it works on local disks and NFSv4."""
    f = open(wd / "run.lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise RunBusyError(f"run {run_id} is already running ({holder}); a second copy was not started") from None
    try:
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}, job {os.environ.get('SLURM_JOB_ID', 'local')}, "
                f"since {time.strftime('%Y-%m-%dT%H:%M:%S')}")
        f.flush()
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


# --- runs without a record: the launch manifest, the queue, the process -------------------

def _manifest_path(home: Path, table: str) -> Path:
    return home / table / MANIFEST


def read_manifest(home: Path, table: str) -> dict:
    return _read_json(_manifest_path(home, table), "launch manifest") or {}


def update_manifest(home: Path, table: str, run_id: str, **entry) -> None:
    """Read-modify-write under an exclusive lock: two launchers of one table (or a launcher and
    its local workers' callbacks) never drop each other's entries."""
    path = _manifest_path(home, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = read_manifest(home, table)
        manifest.setdefault(run_id, {}).update(entry, updated_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        atomic_write(path, json.dumps(manifest, indent=1, default=str))


_EXCEPTION = re.compile(r"^([\w.]*(Error|Exception|Interrupt|Exit)|KeyboardInterrupt)\b(:|$)")
_FATAL = re.compile(r"Fatal Python error: (.+?)\s*$")
_SIGNALS = {"Segmentation fault": "SIGSEGV", "Aborted": "SIGABRT", "Bus error": "SIGBUS",
            "Floating point exception": "SIGFPE", "Illegal instruction": "SIGILL"}
# warnings, traceback frames and source lines: never the reason a run failed
_NOISE = re.compile(r"Warning\b|^warnings\.warn|^File \"|^\^|^-+$|^Traceback|^[\w.]+\((.*[,(])?$|_bootstrap"
                    r"|^Error stream produced:$")


def error_line(text: str) -> str:
    """The line a person wants from a traceback or a log: the last exception ('SomethingError:
    ...'); else the signal a native crash died of (faulthandler's 'Fatal Python error:
    Segmentation fault' -> 'killed by SIGSEGV', with the last video the log names); else the
    last line that is neither a warning nor a line of code."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    exceptions = [ln for ln in lines if _EXCEPTION.match(ln) and "Warning" not in ln.split(":")[0]]
    if exceptions:
        return exceptions[-1][:300]
    fatal = [m.group(1) for ln in lines if (m := _FATAL.search(ln))]
    if fatal or any(ln in ("Killed", "Segmentation fault (core dumped)") for ln in lines):
        cause = fatal[-1] if fatal else lines[-1]
        signal = next((sig for name, sig in _SIGNALS.items() if name in cause), None)
        if signal is None and "Killed" in cause:
            signal = "SIGKILL (out of memory, or killed by hand)"
        videos = [m.group(0) for ln in lines if (m := re.search(r"\S+\.(mp4|avi|mkv|webm|mov)\b", ln))]
        where = f" (last video named in the log: {videos[-1]})" if videos else ""
        return f"killed by {signal or cause}{where}"[:300]
    plain = [ln for ln in lines if not _NOISE.search(ln) and not ln.startswith(("/", "-"))]
    return (plain or [""])[-1][:300]


def failure_reason(exc: BaseException) -> str:
    """What a failed run says: the exception line of its traceback (a job's error names the
    exception inside it), or the signal it died of."""
    return error_line(f"{type(exc).__name__}: {exc}") or type(exc).__name__


# What the other tasks of a multi-task run die of when one task fails: the lost peer, not the cause
_COLLATERAL = re.compile(r"[Cc]onnection (closed|reset|refused)|[Bb]roken pipe|gloo|NCCL|DistBackendError|"
                         r"[Ww]atchdog|collective operation timeout|Socket Timeout|ProcessGroup")


def _last_error(path: Optional[str]) -> str:
    """The error line of a job's stderr; of a multi-task job (submitit writes ``<job>_<task>_log.err``
    per task), the first task whose error is a cause rather than a lost peer, named
    ('task 1: ValueError: ...'): the task that failed first is often not task 0."""
    if not path:
        return ""
    p = Path(path)
    m = re.fullmatch(r"(.+)_(\d+)_log\.err", p.name)
    if m:  # a job array's tasks: <job>_<index>_<task>_log.err, so the task is the last number
        task_log = re.compile(re.escape(m.group(1)) + r"_(\d+)_log\.err")
        found = ((task_log.fullmatch(f.name), f) for f in p.parent.glob(f"{glob.escape(m.group(1))}_*_log.err"))
        logs = sorted((int(t.group(1)), f) for t, f in found if t)
    else:
        logs = [(0, p)]
    errors = [(task, e) for task, f in logs if f.exists() and (e := error_line(f.read_text(errors="replace")))]
    if not errors:
        return ""
    if len(logs) == 1:
        return errors[0][1]
    task, e = next(((t, e) for t, e in errors if not _COLLATERAL.search(e)), errors[0])
    return f"task {task}: {e}"[:300]


def _alive(pid) -> bool:
    """Whether a local run's process (submitit's local job id is its pid) still exists."""
    try:
        os.kill(int(pid), 0)
        return True
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def status(table: str, specs: list[RunSpec], home: Path, all_tables: bool = False) -> list[dict]:
    """Each run: done / done (stale) / running / pending / failed (with log and last error line)
    / not launched / unknown (squeue cannot be asked). ``all_tables``: look for the run in every
    table's manifest (runs are shared between tables)."""
    from slurm.queue import PENDING, RUNNING, pending_reason, squeue_states

    manifest = read_manifest(home, table)
    if all_tables:
        for other in sorted(home.glob(f"*/{MANIFEST}")):
            for run_id, entry in read_manifest(home, other.parent.name).items():
                manifest.setdefault(run_id, entry)
    queue = squeue_states() if any(e.get("executor") == "slurm" for e in manifest.values()) else {}
    rows = []
    for s in specs:
        entry = manifest.get(s.run_id, {})
        row = dict(run_id=s.run_id, row=s.row, model=s.model or "ensemble", dataset=s.dataset, state="not launched",
                   job_id=entry.get("job_id", ""), executor=entry.get("executor", ""), log=entry.get("stderr", ""),
                   error="", metrics="")
        rec = read_record(home, s)
        if rec is not None:
            row.update(state="done", metrics=" ".join(f"{k}={v:.1f}" for k, v in rec["metrics"].items()))
            if stale(s, rec):
                row.update(state="done (stale)", error="its config or overrides changed since it ran, or its config "
                                                       "is unreadable (--force reruns)")
        elif entry.get("executor") == "slurm" and queue is None:
            row.update(state="unknown", error=f"squeue did not answer (failed or timed out), so the state of slurm job "
                                              f"{row['job_id']} is unknown; check `squeue -j {row['job_id']}` (is "
                                              "SLURM_CONF set and slurmctld up?)")
        elif entry.get("executor") == "slurm":
            q, reason = queue.get(str(entry.get("job_id")), ("", ""))
            if q in PENDING:
                row.update(state="pending", error=pending_reason(row["job_id"], reason))
            elif q:
                row["state"] = "running" if q in RUNNING else q.lower()
            else:
                row.update(state="failed",
                           error=_last_error(entry.get("stderr")) or "job left the queue without a record")
        elif entry:
            row["state"] = entry.get("state", "unknown")
            pid = entry.get("job_id") if entry.get("executor") == "local" else entry.get("launcher_pid")
            if row["state"] == "running" and not _alive(pid):
                row["state"] = "failed"  # its process is gone and it left no record: the launcher died
                row["error"] = _last_error(entry.get("stderr")) or "process ended without a record (interrupted?)"
            row["error"] = row["error"] or entry.get("error", "") or (
                _last_error(entry.get("stderr")) if row["state"] == "failed" else "")
        rows.append(row)
    return rows
