"""Launch a table's runs, locally or on Slurm. The launch manifest (``<home>/<table>/launch.json``,
:mod:`benchmark.records`) remembers which job runs which run; records say what finished."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Optional

from slurm import launcher as sl

from .job import execute
from .records import RECORD, error_line, status, update_manifest
from .runs import RunSpec, run_dir


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
            update_manifest(home, table, run_id, executor="slurm", job_id=job.job_id, state="submitted",
                             stdout=str(job.paths.stdout), stderr=str(job.paths.stderr))
            out(f"submitted {run_id}: slurm job {job.job_id}")
        return {k: j.job_id for k, j in jobs.items()}

    def on_state(task, state, info):
        entry = dict(executor=executor, state=state, launcher_pid=os.getpid())
        if state == "running" and hasattr(info, "job_id"):
            entry.update(job_id=str(info.job_id), stdout=str(info.paths.stdout), stderr=str(info.paths.stderr))
        if state in ("failed", "skipped"):
            entry["error"] = error_line(str(info)) or type(info).__name__
        update_manifest(home, table, task.id, **entry)

    results = sl.run_locally(tasks, folder, executor, done, on_state, progress)
    for run_id, res in results.items():
        out(f"{run_id}: " + (f"failed: {error_line(str(res))}" if isinstance(res, BaseException)
                             else "done " + json.dumps(res.get("metrics", {}))))
    return results
