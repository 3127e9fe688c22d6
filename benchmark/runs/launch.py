"""Launch a table's runs, locally or on Slurm. The launch manifest (``<home>/<table>/launch.json``,
:mod:`.state`) remembers which job runs which run; records say what finished."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Optional

from slurm import launcher as sl

from ..formatting import text_columns
from .config import check_config, load_config
from .job import execute, execute_after
from .spec import RunSpec, run_dir
from .state import IN_FLIGHT, MANIFEST, error_line, failure_reason, lock_holder, status, update_manifest


def _task(spec: RunSpec, home: Path, waits: list[RunSpec]) -> sl.Task:
    """The job of one run; one whose dependencies another launch is still running first waits
    for them (they are not submitted twice)."""
    fn, args = (execute_after, (spec, home, tuple(waits))) if waits else (execute, (spec, home))
    return sl.Task(spec.run_id, f"vidtr-{spec.run_id}"[:60], fn, args, spec.depends_on, light=bool(spec.members))


def _note(home: Path, table: str, run_id: str, out, **entry) -> None:
    """Update the launch manifest; if that fails (a full disk), say so and go on: the runs
    themselves, and their records, do not depend on it."""
    try:
        update_manifest(home, table, run_id, **entry)
    except OSError as e:
        out(f"warning: could not note run {run_id} as {entry.get('state')} in {home / table / MANIFEST}: {e}")


def launch(table: str, specs: list[RunSpec], home: Path, *, executor: str = "local", cluster: Optional[str] = None,
           dry_run: bool = False, force=False, progress: bool = True, out=print) -> dict:
    """Launch the runs that have no record yet. ``force``: True reruns every run of ``specs``, a
    set of run ids only those (``--force --rows R``: the rows asked for, not the finished runs
    they depend on); the previous attempt moves into ``previous-<time>/`` in each run's directory.
    A training config that would train nothing is refused before anything starts. Returns run id
    -> job id / result / error."""
    if executor not in sl.EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(sl.EXECUTORS)}")
    if executor == "slurm" and cluster is None:
        raise ValueError(f"--executor slurm needs --cluster PROFILE; profiles: {', '.join(sl.list_profiles())}")
    profile = sl.load_profile(cluster) if executor == "slurm" else None
    forced = {s.run_id for s in specs} if force is True else set(force or ())
    by_id = {s.run_id: s for s in specs}
    states = status(table, specs, home, all_tables=True)
    done = {r["run_id"] for r in states if r["state"] in ("done", "done (stale)")}
    outdated = {r["run_id"] for r in states if r["state"] == "done (stale)"}
    # a run already queued or running (from this table or another that shares it) is not
    # submitted again, and --force will not pull its directory from under it
    # ("unknown": squeue did not answer, so the job may well be running)
    in_flight = {r["run_id"]: r["state"] for r in states if r["state"] in IN_FLIGHT}
    for s in specs:  # before anything is submitted or moved: an option that would train nothing, named
        if s.config and (s.run_id in forced or (s.run_id not in done and s.run_id not in in_flight)):
            check_config(load_config(s.config, s.overrides, f"run {s.run_id}: override"), f"run {s.run_id}")
    if executor == "slurm" and not dry_run:  # an unknown partition or impossible job: said before anything goes out
        sl.check_partition(profile, {bool(s.members) for s in specs})
    busy = {r: st for r, st in in_flight.items() if r in forced}
    if busy:
        raise ValueError(f"--force: run(s) {sorted(busy)} are still {sorted(set(busy.values()))}; "
                         "cancel them first (scancel) or wait")
    if forced:  # rerun from scratch; the previous attempt moves aside, nothing is deleted
        stamp = time.strftime("%Y%m%d-%H%M%S-") + f"{time.time_ns() % 10**9:09d}"
        for s in [s for s in specs if s.run_id in forced] if not dry_run else []:  # none held by a process
            holder = lock_holder(run_dir(home, s))
            if holder:
                raise ValueError(f"--force: run {s.run_id} is running ({holder}); nothing was moved: wait for it "
                                 "or stop that process")
        for s in [s for s in specs if s.run_id in forced] if not dry_run else []:
            wd = run_dir(home, s)
            # the lock file stays: a process that opens it later must lock the same file
            old = [p for p in wd.iterdir() if not p.name.startswith("previous-") and p.name != "run.lock"] \
                if wd.exists() else []
            if old:
                keep = wd / f"previous-{stamp}"
                keep.mkdir(exist_ok=True)
                for p in old:
                    shutil.move(str(p), str(keep / p.name))
        done, outdated = done - forced, outdated - forced
    out(text_columns(["run", "row", "model", "dataset", "state"], [
        [s.run_id, s.row, s.model or "ensemble", s.dataset,
         "done, STALE (skipped)" if s.run_id in outdated else "done (skipped)" if s.run_id in done
         else f"{in_flight[s.run_id]} (skipped)" if s.run_id in in_flight
         else "would launch" if dry_run else "launching"] for s in specs]))
    if outdated:
        out(f"warning: {len(outdated)} finished run(s) are stale (their config changed since they ran, or their "
            "scores file changed after the record: `vidtr-bench status` says which); their results stay as they "
            "are: --force reruns them (the old attempt is kept in previous-<time>/)")
    todo = [s for s in specs if s.run_id not in done and s.run_id not in in_flight]
    if not todo:
        out(f"table {table}: every run has a record or is running; nothing to launch (--force reruns)")
        return {}
    # what depends on a run another launch has in flight waits for it: on Slurm, as a job
    # dependency on that run's job; otherwise inside its own job (execute_after)
    queued = {r["run_id"]: r["job_id"] for r in states if r["run_id"] in in_flight and executor == "slurm"
              and r["executor"] == "slurm" and r["job_id"] and r["state"] != "unknown"}
    tasks = [_task(s, home, [by_id[d] for d in s.depends_on if d in in_flight and d not in queued]) for s in todo]
    done |= set(in_flight) - set(queued)
    folder = home / table / "submitit"
    if dry_run:
        for t in tasks:
            out(f"\n# {t.id}  ({executor})")
            if executor == "slurm":
                deps = [d for d in t.depends_on if d not in done]
                out(sl.sbatch_preview(t, profile, folder, f"afterok:<jobs of {','.join(deps)}>" if deps else None))
        return {}
    if executor == "slurm":
        jobs = sl.submit_slurm(tasks, folder, profile, done, queued, partition_checked=True)  # checked above
        for run_id, job in jobs.items():
            _note(home, table, run_id, out, executor="slurm", job_id=job.job_id, state="submitted",
                  stdout=str(job.paths.stdout), stderr=str(job.paths.stderr))
            out(f"submitted {run_id}: slurm job {job.job_id}")
        return {k: j.job_id for k, j in jobs.items()}

    logs: dict = {}  # run id -> its job's stderr, for a job that died without saying why

    def reason(run_id: str, exc: BaseException) -> str:
        if type(exc).__name__ != "UncompletedJobError":
            return failure_reason(exc)
        # submitit only says the job left no result: its log says why, or the job was killed by a
        # signal it could not catch (submitit's local controller does not keep the exit status)
        log = Path(logs[run_id]) if logs.get(run_id) else None
        said = error_line(log.read_text(errors="replace"), plain=False) if log and log.exists() else ""
        return said or ("killed by a signal it cannot catch before it could report (SIGKILL: out of memory, or "
                        "killed by hand); its log ends without an error")

    def on_state(task, state, info):
        entry = dict(executor=executor, state=state, launcher_pid=os.getpid())
        if state == "running" and hasattr(info, "job_id"):
            entry.update(job_id=str(info.job_id), stdout=str(info.paths.stdout), stderr=str(info.paths.stderr))
            logs[task.id] = entry["stderr"]
        if state in ("failed", "skipped"):
            entry["error"] = reason(task.id, info)
        _note(home, table, task.id, out, **entry)

    results = sl.run_locally(tasks, folder, executor, done, on_state, progress)
    for run_id, res in results.items():
        out(f"{run_id}: " + (f"failed: {reason(run_id, res)}" if isinstance(res, BaseException)
                             else "done " + json.dumps(res.get("metrics", {}))))
    return results


def wait(table: str, specs: list[RunSpec], home: Path, poll_s: float = 30.0, progress: bool = True, out=print) -> bool:
    """``launch --wait``: stay until no run of ``specs`` is pending or running, with a progress
    bar of runs done; True when every run has a record."""
    from tqdm import tqdm

    bar = tqdm(total=len(specs), disable=not progress, unit="run", desc=f"table {table}", dynamic_ncols=True)
    while True:
        rows = status(table, specs, home, all_tables=True)
        finished = sum(r["state"].startswith("done") for r in rows)
        bar.update(finished - bar.n)
        bar.set_postfix_str(", ".join(f"{n} {st}" for st in sorted({r["state"] for r in rows})
                                      if (n := sum(r["state"] == st for r in rows))))
        if not any(r["state"] in IN_FLIGHT for r in rows):
            break
        time.sleep(poll_s)
    bar.close()
    failed = [r for r in rows if not r["state"].startswith("done")]
    for r in failed:
        out(f"{r['run_id']}: {r['state']}" + (f": {r['error']}" if r["error"] else ""))
    return not failed
