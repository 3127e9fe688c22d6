"""What Slurm's queue says about jobs, asked through ``squeue`` alone (no submitit import), so
that status and reports can ask it without loading the launcher."""
from __future__ import annotations

import subprocess
from typing import Optional

# squeue states of a job that has not started yet (or is waiting to start again)
PENDING = ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD")
RUNNING = ("RUNNING", "COMPLETING")
# pending reasons after which Slurm will not start the job as it was asked until someone changes
# the job, the partition or the account (also any per-job limit: QOSMaxCpuPerJobLimit, ...);
# the others (Resources, Priority, Dependency, per-user limits, ...) pass with time
STUCK = ("PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints", "DependencyNeverSatisfied",
         "InvalidAccount", "InvalidQOS", "ReqNodeNotAvail")
SQUEUE_TIMEOUT_S = 20


def squeue_states() -> Optional[dict[str, tuple[str, str]]]:
    """Job id -> (state, reason) (-r: one line per array task; reason: why a pending job waits,
    "None" otherwise); None when squeue cannot be asked (failed or timed out)."""
    try:
        run = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T %r"], capture_output=True, text=True,
                             timeout=SQUEUE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    if run.returncode != 0:
        return None
    jobs = {}
    for line in run.stdout.splitlines():
        job, state, reason = (line.split(maxsplit=2) + ["", ""])[:3]
        if job:
            jobs[job] = (state, reason)
    return jobs


def pending_reason(job_id: str, reason: str) -> str:
    """Why a pending job waits, for people: squeue's reason, and what to do when it may wait forever."""
    if not reason or reason == "None":
        return ""
    if reason.startswith(STUCK) or "PerJob" in reason:
        return (f"pending: {reason}: Slurm may never start it as asked; see `scontrol show job {job_id}`, "
                f"then fix the cluster profile, scancel {job_id} and launch again")
    return f"pending: {reason}"
