"""Launch a table's runs (locally or on Slurm) and report their status. The launch manifest
(``<home>/<table>/launch.json``) remembers which job runs which run; records say what finished."""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional

from slurm import launcher as sl

from .job import RECORD, atomic_write, execute, read_record, stale
from .runs import RunSpec, run_dir, table_runs

MANIFEST = "launch.json"


def specs_for(table: str, data_root: str, rows: Optional[list] = None, seed: int = 0,
              smoke_epochs: int = 2, smoke_delay_s: float = 0.0) -> list[RunSpec]:
    if table == "smoke":
        from .smoke import make_clips, smoke_runs

        if data_root:  # generated data: written on first use
            Path(data_root).mkdir(parents=True, exist_ok=True)
            make_clips(data_root)
        specs = smoke_runs(data_root, seed, epochs=smoke_epochs, epoch_delay_s=smoke_delay_s)
        if rows:
            known = [s.row for s in specs]
            bad = [r for r in rows if r not in known]
            if bad:
                raise KeyError(f"table smoke has no row(s) {bad}; valid rows: {', '.join(known)}")
            specs = [s for s in specs if s.row in rows]
        return specs
    return table_runs(table, data_root, rows, seed)


def _manifest_path(home: Path, table: str) -> Path:
    return home / table / MANIFEST


def read_manifest(home: Path, table: str) -> dict:
    path = _manifest_path(home, table)
    return json.loads(path.read_text()) if path.exists() else {}


def _update_manifest(home: Path, table: str, run_id: str, **entry) -> None:
    """Read-modify-write under an exclusive lock: two launchers of one table (or a launcher and
    its local workers' callbacks) never drop each other's entries."""
    path = _manifest_path(home, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = read_manifest(home, table)
        manifest.setdefault(run_id, {}).update(entry, updated_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        atomic_write(path, json.dumps(manifest, indent=1, default=str))


def _table_line(cols: list) -> str:
    return "  ".join(f"{c:<{w}}" for c, w in zip(cols, (34, 26, 22, 12, 30)))


def launch(table: str, specs: list[RunSpec], home: Path, executor: str = "local", cluster: Optional[str] = None,
           dry_run: bool = False, force: bool = False, progress: bool = True, out=print) -> dict:
    """Launch the runs that have no record yet (all of them with ``force``, keeping the old
    records beside as ``record.<time>.json``). Returns run id -> job id / result / error."""
    if executor not in sl.EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(sl.EXECUTORS)}")
    if executor == "slurm" and cluster is None:
        raise ValueError(f"--executor slurm needs --cluster PROFILE; profiles: {', '.join(sl.list_profiles())}")
    profile = sl.load_profile(cluster) if executor == "slurm" else None
    done = {s.run_id for s in specs if (run_dir(home, s) / RECORD).exists()}
    states = status(table, specs, home, all_tables=True)
    outdated = {r["run_id"] for r in states if r["state"] == "done (stale)"}
    # a run already queued or running (from this table or another that shares it) is not
    # submitted again, and --force will not pull its directory from under it
    in_flight = {r["run_id"]: r["state"] for r in states if r["state"] in ("pending", "running", "submitted")}
    if force and in_flight:
        raise ValueError(f"--force: run(s) {sorted(in_flight)} are still {sorted(set(in_flight.values()))}; "
                         "cancel them first (scancel) or wait")
    if force:  # rerun from scratch; the previous attempt moves aside, nothing is deleted
        stamp = time.strftime("%Y%m%d-%H%M%S-") + f"{time.time_ns() % 10**9:09d}"
        for s in specs if not dry_run else []:
            wd = run_dir(home, s)
            old = [p for p in wd.iterdir() if not p.name.startswith("previous-")] if wd.exists() else []
            if old:
                keep = wd / f"previous-{stamp}"
                keep.mkdir(exist_ok=True)
                for p in old:
                    shutil.move(str(p), str(keep / p.name))
        done, outdated = set(), set()
    out(_table_line(["run", "row", "model", "dataset", "state"]))
    for s in specs:
        state = ("done, STALE (skipped)" if s.run_id in outdated else "done (skipped)" if s.run_id in done
                 else f"{in_flight[s.run_id]} (skipped)" if s.run_id in in_flight
                 else "would launch" if dry_run else "launching")
        out(_table_line([s.run_id, s.row[:26], (s.model or "ensemble")[:22], s.dataset, state]))
    if outdated and not force:
        out(f"warning: {len(outdated)} finished run(s) were defined by a config that has changed since they ran; "
            "their results stay as they are: --force reruns them (the old attempt is kept in previous-<time>/)")
    todo = [s for s in specs if s.run_id not in done and s.run_id not in in_flight]
    done |= set(in_flight)  # dependents of an in-flight run wait for it like for a finished one
    if not todo:
        out(f"table {table}: every run has a record; nothing to launch (--force reruns)")
        return {}
    tasks = [sl.Task(s.run_id, f"vidtr-{s.run_id}"[:60], execute, (s, home), s.depends_on, light=bool(s.members))
             for s in todo]
    folder = home / table / "submitit"
    if dry_run:
        for t in tasks:
            out(f"\n# {t.id}  ({executor})")
            if executor == "slurm":
                deps = [d for d in t.depends_on if d not in done]
                out(sl.sbatch_preview(t, profile, folder, f"afterok:<jobs of {','.join(deps)}>" if deps else None))
        return {}
    if executor == "slurm":
        jobs = sl.submit_slurm(tasks, folder, profile, done)
        for run_id, job in jobs.items():
            _update_manifest(home, table, run_id, executor="slurm", job_id=job.job_id, state="submitted",
                             stdout=str(job.paths.stdout), stderr=str(job.paths.stderr))
            out(f"submitted {run_id}: slurm job {job.job_id}")
        return {k: j.job_id for k, j in jobs.items()}

    def on_state(task, state, info):
        entry = dict(executor=executor, state=state, launcher_pid=os.getpid())
        if state == "running" and hasattr(info, "job_id"):
            entry.update(job_id=str(info.job_id), stdout=str(info.paths.stdout), stderr=str(info.paths.stderr))
        if state in ("failed", "skipped"):
            entry["error"] = error_line(str(info)) or type(info).__name__
        _update_manifest(home, table, task.id, **entry)

    results = sl.run_locally(tasks, folder, executor, done, on_state, progress)
    for run_id, res in results.items():
        out(f"{run_id}: " + (f"failed: {error_line(str(res))}" if isinstance(res, BaseException)
                             else "done " + json.dumps(res.get("metrics", {}))))
    return results


def _alive(pid) -> bool:
    """Whether a local run's process (submitit's local job id is its pid) still exists."""
    try:
        os.kill(int(pid), 0)
        return True
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def _squeue_states() -> Optional[dict]:
    """Job id -> state (-r: one line per array task); None when squeue cannot be asked."""
    try:
        run = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if run.returncode != 0:
        return None
    return dict(line.split(maxsplit=1) for line in run.stdout.splitlines() if line.strip())


_ERROR_LINE = re.compile(r"^\s*([\w.]+(Error|Exception|Interrupt)|[\w.]*Error\b)[^/]*:")


def error_line(text: str) -> str:
    """The line a person wants from a traceback or a log: the last 'SomethingError: ...'."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _ERROR_LINE.match(ln)]
    return (errors or [ln for ln in lines if not ln.startswith(("-", "/"))] or [""])[-1][:300]


def _last_error(path: Optional[str]) -> str:
    if not path or not Path(path).exists():
        return ""
    return error_line(Path(path).read_text(errors="replace"))


def status(table: str, specs: list[RunSpec], home: Path, all_tables: bool = False) -> list[dict]:
    """Each run: done / running / pending / failed (with log and last error line) / not launched
    / unknown (squeue cannot be asked). ``all_tables``: look for the run in every table's manifest."""
    manifest = read_manifest(home, table)
    if all_tables:  # runs are shared between tables: any table may have launched it
        for other in sorted(home.glob(f"*/{MANIFEST}")):
            for run_id, entry in json.loads(other.read_text()).items():
                manifest.setdefault(run_id, entry)
    queue = _squeue_states() if any(e.get("executor") == "slurm" for e in manifest.values()) else {}
    rows = []
    for s in specs:
        entry = manifest.get(s.run_id, {})
        row = dict(run_id=s.run_id, row=s.row, model=s.model or "ensemble", dataset=s.dataset, state="not launched",
                   job_id=entry.get("job_id", ""), log=entry.get("stderr", ""), error="", metrics="")
        rec = read_record(home, s)
        if rec is not None:
            row.update(state="done", metrics=" ".join(f"{k}={v:.1f}" for k, v in rec["metrics"].items()))
            if stale(s, rec):
                row.update(state="done (stale)", error="its config or overrides changed since it ran, or its config "
                                                       "is unreadable (--force reruns)")
        elif entry.get("executor") == "slurm" and queue is None:
            row.update(state="unknown", error="squeue did not answer (is SLURM_CONF set and the controller up?)")
        elif entry.get("executor") == "slurm":
            q = queue.get(str(entry.get("job_id")), "")
            if q in ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"):
                row["state"] = "pending"
            elif q:
                row["state"] = "running" if q in ("RUNNING", "COMPLETING") else q.lower()
            else:
                row.update(state="failed", error=_last_error(entry.get("stderr")) or "job left the queue without a record")
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
