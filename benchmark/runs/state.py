"""The state of a run that has no record yet: the lock its one executor holds, the launch
manifest (which executor and job runs it), Slurm's queue and the process; and the error line a
failed run shows."""
from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Optional

from ..files import atomic_write
from .nodes import task_log_text, task_node
from .records import adopt_finished, read_json_object, read_record, stale_reason
from .spec import RunSpec

MANIFEST = "launch.json"  # <home>/<table>/launch.json: which executor/job runs which run
# states of a run that may still produce a record ("unknown": squeue did not answer)
IN_FLIGHT = ("pending", "running", "submitted", "unknown")


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


def lock_holder(wd: Path) -> str:
    """Who holds a run's lock now ('' when nobody does: a look, the lock is not kept)."""
    path = wd / "run.lock"
    if not path.exists():
        return ""
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            return f.read().strip() or "another process"
        fcntl.flock(f, fcntl.LOCK_UN)
    return ""


def _manifest_path(home: Path, table: str) -> Path:
    return home / table / MANIFEST


def read_manifest(home: Path, table: str) -> dict:
    return read_json_object(_manifest_path(home, table), "launch manifest") or {}


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


# the harness's own exceptions whose message is the whole reason ('diverged at epoch 2 iter 7 (loss nan)')
_SELF_EXPLAINING = re.compile(r"^(?:[\w.]*\.)?(Diverged|KilledBySignal): ")


def error_line(text: str, plain: bool = True) -> str:
    """The line a person wants from a traceback or a log: a full disk, said plainly (it also cuts
    the log short); the last exception ('SomethingError: ...', or the bare message of the
    harness's own Diverged and KilledBySignal); else the signal a
    native crash died of (faulthandler's 'Fatal Python error: Segmentation fault' -> 'killed by
    SIGSEGV', with the last video the log names); else (``plain``) the last line that is neither a
    warning nor a line of code."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if any("No space left on device" in ln for ln in lines):  # a full disk cuts the log itself short
        return ("no space left on device (the disk the run writes to is full: free space, then launch again; it "
                "resumes from its last intact checkpoint)")
    exceptions = [ln for ln in lines if (_EXCEPTION.match(ln) or _SELF_EXPLAINING.match(ln))
                  and "Warning" not in ln.split(":")[0]]
    if exceptions:
        return _SELF_EXPLAINING.sub("", exceptions[-1])[:300]
    fatal = [m.group(1) for ln in lines if (m := _FATAL.search(ln))]
    if fatal or any(ln in ("Killed", "Segmentation fault (core dumped)") for ln in lines):
        cause = fatal[-1] if fatal else lines[-1]
        signal = next((sig for name, sig in _SIGNALS.items() if name in cause), None)
        if signal is None and "Killed" in cause:
            signal = "SIGKILL (out of memory, or killed by hand)"
        videos = [m.group(0) for ln in lines if (m := re.search(r"\S+\.(mp4|avi|mkv|webm|mov)\b", ln))]
        where = f" (last video named in the log: {videos[-1]})" if videos else ""
        return f"killed by {signal or cause}{where}"[:300]
    if not plain:
        return ""
    rest = [ln for ln in lines if not _NOISE.search(ln) and not ln.startswith(("/", "-"))]
    return (rest or [""])[-1][:300]


def failure_reason(exc: BaseException) -> str:
    """What a failed run says: the exception line of its traceback (a job's error names the
    exception inside it), or the signal it died of."""
    return error_line(f"{type(exc).__name__}: {exc}") or type(exc).__name__


# What the other tasks of a multi-task run die of when one task fails: the lost peer, not the cause
_COLLATERAL = re.compile(r"[Cc]onnection (closed|reset|refused)|[Bb]roken pipe|gloo|NCCL|DistBackendError|"
                         r"[Ww]atchdog|collective operation timeout|Socket Timeout|ProcessGroup")


def _last_error(path: Optional[str]) -> str:
    """The error line of a job's stderr; of a multi-task job (submitit writes ``<job>_<task>_log.err``
    per task), the first task whose error is a cause rather than a lost peer, named with the node
    its log says it ran on ('task 1 on node2: ValueError: ...'): the task that failed first is
    often not task 0, nor on rank 0's node."""
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
    texts = {task: f.read_text(errors="replace") for task, f in logs if f.exists()}
    errors = [(task, e) for task, text in texts.items() if (e := error_line(task_log_text(text)))]
    if not errors:
        return ""
    if len(logs) == 1:
        return errors[0][1]
    task, e = next(((t, e) for t, e in errors if not _COLLATERAL.search(e)), errors[0])
    node = task_node(texts[task])
    return f"task {task}{f' on {node}' if node else ''}: {e}"[:300]


def _alive(pid) -> bool:
    """Whether a local run's process (submitit's local job id is its pid) still exists and is a
    Python process: after a reboot or a long time the pid may belong to another program."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{int(pid)}/cmdline")
    try:  # Linux: the process's command; elsewhere, trust the pid
        return b"python" in cmdline.read_bytes() if cmdline.parent.is_dir() else True
    except OSError:
        return False


def status(table: str, specs: list[RunSpec], home: Path, all_tables: bool = False) -> list[dict]:
    """Each run: done / done (stale) / running / pending / failed (with log and last error line)
    / not launched / unknown (squeue cannot be asked). ``all_tables``: look for the run in every
    table's manifest (runs are shared between tables). Finished runs of an earlier version of the
    harness that compute what a spec computes are adopted first (:func:`.records.adopt_finished`)."""
    from slurm.queue import PENDING, RUNNING, pending_reason, squeue_states

    adopt_finished(home, specs, say=lambda line: print(line, file=sys.stderr))
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
            why = stale_reason(s, rec)
            if why:
                row.update(state="done (stale)", error=why)
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
        elif entry.get("state") == "done":  # finished once, but its record is gone (corrupt, moved aside)
            row.update(state="failed", error="finished, but its record is missing or was corrupt (moved aside); "
                                             "launching again tests it again from its last checkpoint")
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
